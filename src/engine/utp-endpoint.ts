import utp, { type UtpConnection, type UtpSocket } from 'utp-native'
import { BidtorrentError } from '../util/errors.js'

/**
 * libutp sends in bursts that overflow Linux's default UDP buffers (208 KiB): with 4 MiB a
 * loopback transfer went from 10 to 23 MiB/s (measured with utp-native 2.5.3 before choosing it).
 */
const UDP_BUFFER_BYTES = 4 * 1024 * 1024

/**
 * The UDP side of the peer port: uTP (BEP 29) connections both ways on one socket, through
 * libutp (the reference implementation, with LEDBAT congestion control; Transmission uses it
 * too). The DHT shares the socket, as in libtorrent: datagrams that are not uTP reach it as
 * 'message' events, so peers find both on the port they know.
 */
export class UtpEndpoint {
  readonly socket: UtpSocket = utp()
  private bound = false

  constructor (onConnection: (connection: UtpConnection) => void) {
    // Until the engine is ready, connections are refused (libutp answers with a reset).
    this.socket.firewall(true)
    this.socket.on('connection', onConnection)
  }

  /** Binds the UDP port (the TCP listener's number) and starts taking connections. */
  async listen (port: number, host: string): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const failed = (err: NodeJS.ErrnoException): void => {
        const inUse = err.code === 'EADDRINUSE' || /EADDRINUSE|in use/i.test(err.message)
        reject(new BidtorrentError(inUse ? 'EUDPINUSE' : 'ELISTEN',
          `cannot listen for uTP peers on UDP ${host}:${port}: ${inUse ? 'the port is in use (choose another with --port, or set utp to false)' : err.message}`))
      }
      this.socket.once('error', failed)
      this.socket.bind(port, host, () => {
        this.socket.removeListener('error', failed)
        resolve()
      })
    })
    this.bound = true
    this.socket.setRecvBufferSize(UDP_BUFFER_BYTES)
    this.socket.setSendBufferSize(UDP_BUFFER_BYTES)
    this.socket.firewall(false)
  }

  get port (): number | undefined {
    return this.bound ? this.socket.address().port : undefined
  }

  connect (host: string, port: number): UtpConnection {
    return this.socket.connect(port, host)
  }

  /** Closes the socket once its connections are gone (the caller destroys them first). */
  async close (): Promise<void> {
    if (!this.bound) return
    this.bound = false
    for (const connection of [...this.socket.connections]) connection.destroy()
    await new Promise<void>((resolve) => this.socket.close(() => resolve()))
  }
}
