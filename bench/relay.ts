// The "proxy hop" every driver suite measures: a loopback TCP relay that forwards bytes and does no
// protocol work at all, so it is the floor of what any gateway in the data path adds.
import { createConnection, createServer, type Socket } from 'node:net'

export interface Relay {
  /** The relay's loopback port; connect here instead of to the target. */
  readonly port: number
  close(): Promise<void>
}

/** Starts a relay to `host:port` on a free loopback port. */
export function tcpRelay(host: string, port: number): Promise<Relay> {
  const sockets = new Set<Socket>()
  const server = createServer((inbound) => {
    const outbound = createConnection({ host, port })
    inbound.setNoDelay(true)
    outbound.setNoDelay(true)
    sockets.add(inbound).add(outbound)
    inbound.pipe(outbound).pipe(inbound)
    const close = () => {
      inbound.destroy()
      outbound.destroy()
      sockets.delete(inbound)
      sockets.delete(outbound)
    }
    inbound.on('error', close).on('close', close)
    outbound.on('error', close).on('close', close)
  })
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        port: (server.address() as { port: number }).port,
        close: () =>
          new Promise<void>((done) => {
            for (const s of sockets) s.destroy()
            server.close(() => done())
          }),
      }),
    ),
  )
}
