import { connect, type ClientHttp2Session, type ClientHttp2Stream, type OutgoingHttpHeaders } from 'node:http2'
import type { ClusterSpec } from '../config/clusters'

/**
 * One HTTP/2 session per cluster for gRPC callouts: `http:` clusters speak
 * h2c with prior knowledge, `https:` ones TLS with ALPN h2. A session is
 * opened on first use and replaced once it closes, fails or goes away.
 */
export class GrpcChannels {
  private readonly specs = new Map<string, ClusterSpec>()
  private readonly sessions = new Map<string, ClientHttp2Session>()
  private closed = false

  constructor (clusters: readonly ClusterSpec[]) {
    for (const spec of clusters) this.specs.set(spec.name, spec)
  }

  has (name: string): boolean {
    return this.specs.has(name)
  }

  get names (): string[] {
    return [...this.specs.keys()]
  }

  /** The deadline a unary call gets: its own, else the cluster's; 0 = none. */
  timeoutFor (name: string, timeoutMs: number): number {
    return timeoutMs > 0 ? timeoutMs : this.specs.get(name)?.timeoutMs ?? 0
  }

  /** Opens a stream on the cluster's session. Throws when the host is closed or Node refuses the request. */
  request (name: string, headers: OutgoingHttpHeaders): ClientHttp2Stream {
    if (this.closed) throw new Error('the host is closing')
    return this.session(name).request(headers, { endStream: false })
  }

  private session (name: string): ClientHttp2Session {
    const existing = this.sessions.get(name)
    if (existing !== undefined && !existing.closed && !existing.destroyed) return existing
    const spec = this.specs.get(name)
    if (spec === undefined) throw new Error(`unknown cluster ${JSON.stringify(name)}`)
    const session = connect(spec.origin)
    const forget = () => { if (this.sessions.get(name) === session) this.sessions.delete(name) }
    // Its streams report the error; the session only has to be replaced.
    session.on('error', forget)
    session.on('close', forget)
    session.on('goaway', forget)
    this.sessions.set(name, session)
    return session
  }

  /** Destroys every session; streams still open fail. */
  async close (): Promise<void> {
    this.closed = true
    const sessions = [...this.sessions.values()]
    this.sessions.clear()
    await Promise.all(sessions.map(s => new Promise<void>(resolve => {
      if (s.destroyed) return resolve()
      s.once('close', () => resolve())
      s.destroy()
    })))
  }
}
