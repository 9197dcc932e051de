// PostgreSQL without a server install: PGlite (Postgres compiled to WASM) behind a real wire-protocol
// socket, so the guarded pg pool talks to it exactly as it would to a real server.
import { PGlite } from '@electric-sql/pglite'
import { PGLiteSocketServer } from '@electric-sql/pglite-socket'

export interface EmbeddedPostgres {
  readonly host: string
  readonly port: number
  /** Runs SQL as the owner, outside Warden (to load sample data). */
  exec(sql: string): Promise<void>
  stop(): Promise<void>
}

export async function startEmbeddedPostgres(): Promise<EmbeddedPostgres> {
  const db = await PGlite.create()
  // port 0: the OS picks a free port; the socket server queues queries of several connections
  const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: 32 })
  await server.start()
  const address = server.getServerConn()
  const colon = address.lastIndexOf(':')
  return {
    host: address.slice(0, colon),
    port: Number(address.slice(colon + 1)),
    async exec(sql) {
      await db.exec(sql)
    },
    async stop() {
      await server.stop()
      await db.close()
    },
  }
}
