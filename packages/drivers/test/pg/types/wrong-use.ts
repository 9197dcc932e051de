// The control: a wrong use without @ts-expect-error, which the test expects tsc to report.
import type { Pool } from '@warden/drivers/pg'

declare const pool: Pool
export const id: string = (await pool.query<{ id: number }>('SELECT 1 AS id')).rows[0].id
