// An embedded PostgreSQL for the demo and the examples: PGlite (Postgres compiled to WASM) behind a
// real wire-protocol socket, so the guarded pg driver talks to it exactly as to a real server.
export interface EmbeddedPostgres {
  readonly host: string
  readonly port: number
  /** Runs SQL as the owner, outside Warden (to load sample data). */
  exec(sql: string): Promise<void>
  stop(): Promise<void>
}

export async function startEmbeddedPostgres(): Promise<EmbeddedPostgres> {
  const { PGlite } = await import('@electric-sql/pglite')
  const { PGLiteSocketServer } = await import('@electric-sql/pglite-socket')
  const db = await PGlite.create()
  // Port 0: the OS picks a free port. PGlite runs one query at a time; the socket server queues
  // queries across connections, so a pool (one connection per lease) can still open several.
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
