// An embedded PostgreSQL for the demo: PGlite (Postgres compiled to WASM) behind a real
// wire-protocol socket, so the demo uses the very same pg driver code as a real server.
export interface EmbeddedPostgres {
  readonly host: string
  readonly port: number
  stop(): Promise<void>
}

export async function startEmbeddedPostgres(): Promise<EmbeddedPostgres> {
  const { PGlite } = await import('@electric-sql/pglite')
  const { PGLiteSocketServer } = await import('@electric-sql/pglite-socket')
  const db = await PGlite.create()
  // Port 0: the OS picks a free port. PGlite runs one query at a time; the socket server queues
  // queries across connections, so a pool (one connection per lease) can still open several.
  const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: 8 })
  await server.start()
  const address = server.getServerConn()
  const colon = address.lastIndexOf(':')
  return {
    host: address.slice(0, colon),
    port: Number(address.slice(colon + 1)),
    async stop() {
      await server.stop()
      await db.close()
    },
  }
}
