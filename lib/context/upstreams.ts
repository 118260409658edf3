import { Pool } from 'undici'
import type { ClusterSpec } from '../config/clusters'
import type { HttpCallRequest } from '../host/types'

/** What came back: a full response, or why there is none. */
export type CallOutcome =
  | { ok: true, status: number, headers: string[], body: Buffer, trailers: string[] }
  /** `reason` is short and stable (what proxy_get_status reports); `detail` is for the log. */
  | { ok: false, reason: string, detail: string }

// Connection-level headers the client manages itself (and undici refuses).
const MANAGED = new Set(['host', 'content-length', 'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'upgrade', 'expect'])
// Hop-by-hop response headers belong to the connection: filters do not see them (as for requests and responses).
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade'])

const RESET_CODES = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED'])
const RESOLVE_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL'])

/** A short, stable name for a client error (Kong's and Envoy's words where they have one). */
function reasonOf (code: string): string {
  if (code === 'ECONNREFUSED') return 'connection refused'
  if (RESET_CODES.has(code)) return 'reset'
  if (RESOLVE_CODES.has(code)) return 'resolver failure'
  if (code === 'UND_ERR_CONNECT_TIMEOUT') return 'timeout'
  if (code === 'UND_ERR_HEADERS_OVERFLOW') return 'response too large'
  if (code === 'UND_ERR_INVALID_ARG') return 'invalid request'
  if (code.startsWith('ERR_TLS') || code.includes('CERT') || code.startsWith('ERR_SSL')) return 'tls handshake failure'
  return 'broken connection'
}

function failure (err: unknown): CallOutcome {
  const e = err as { code?: unknown, message?: unknown }
  const code = typeof e?.code === 'string' ? e.code : ''
  const message = typeof e?.message === 'string' ? e.message : String(err)
  return { ok: false, reason: reasonOf(code), detail: code === '' ? message : `${message} (${code})` }
}

function flatten (headers: Record<string, string | string[] | undefined> | null | undefined, skip?: Set<string>): string[] {
  const flat: string[] = []
  if (headers == null) return flat
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || skip?.has(name)) continue
    if (Array.isArray(value)) for (const v of value) flat.push(name, v)
    else flat.push(name, value)
  }
  return flat
}

class TooLarge extends Error {}

/**
 * The configured clusters, each with a pooled undici client (keep-alive
 * connections, created at startup, closed with the app). Responses are
 * read fully, up to `bodyLimit` bytes.
 */
export class Upstreams {
  private readonly pools = new Map<string, { spec: ClusterSpec, pool: Pool }>()

  constructor (clusters: readonly ClusterSpec[], private readonly bodyLimit: number) {
    for (const spec of clusters) {
      // The call's own deadline is the only timeout: undici's per-phase ones are off.
      this.pools.set(spec.name, { spec, pool: new Pool(spec.origin, { headersTimeout: 0, bodyTimeout: 0 }) })
    }
  }

  has (name: string): boolean {
    return this.pools.has(name)
  }

  get names (): string[] {
    return [...this.pools.keys()]
  }

  /** The deadline a call gets: its own, else the cluster's; 0 = none. */
  timeoutFor (name: string, timeoutMs: number): number {
    return timeoutMs > 0 ? timeoutMs : this.pools.get(name)?.spec.timeoutMs ?? 0
  }

  /**
   * Sends a call and reads the whole response. Never rejects: failures
   * (including `signal` aborting it) resolve with a reason. Request
   * trailers are not sent: undici has no way to send them.
   */
  async send (call: HttpCallRequest, signal: AbortSignal): Promise<CallOutcome> {
    const name = call.cluster
    const entry = this.pools.get(name)
    if (entry === undefined) return { ok: false, reason: 'unknown cluster', detail: `unknown cluster ${JSON.stringify(name)}` }
    const timeoutMs = this.timeoutFor(name, call.timeoutMs)
    const deadline = new AbortController()
    let timedOut = false
    const onAbort = () => deadline.abort()
    signal.addEventListener('abort', onAbort, { once: true })
    const timer = timeoutMs > 0
      ? setTimeout(() => { timedOut = true; deadline.abort() }, timeoutMs).unref()
      : undefined
    const headers: string[] = []
    for (let i = 0; i < call.headers.length; i += 2) {
      if (!MANAGED.has(call.headers[i])) headers.push(call.headers[i], call.headers[i + 1])
    }
    headers.push('host', call.authority)
    try {
      const res = await entry.pool.request({
        method: call.method,
        path: call.path,
        headers,
        body: call.body.length > 0 ? call.body : undefined,
        signal: deadline.signal
      })
      const chunks: Buffer[] = []
      let size = 0
      try {
        for await (const chunk of res.body) {
          size += (chunk as Buffer).length
          if (size > this.bodyLimit) throw new TooLarge()
          chunks.push(chunk as Buffer)
        }
      } catch (err) {
        res.body.destroy()
        throw err
      }
      return {
        ok: true,
        status: res.statusCode,
        headers: flatten(res.headers, HOP_BY_HOP),
        body: Buffer.concat(chunks, size),
        trailers: flatten(res.trailers)
      }
    } catch (err) {
      if (timedOut) return { ok: false, reason: 'timeout', detail: `no complete response within ${timeoutMs} ms` }
      if (signal.aborted) return { ok: false, reason: 'cancelled', detail: 'cancelled' }
      if (err instanceof TooLarge) return { ok: false, reason: 'response too large', detail: `the response body is over the ${this.bodyLimit}-byte limit (bodyLimit)` }
      return failure(err)
    } finally {
      if (timer !== undefined) clearTimeout(timer)
      signal.removeEventListener('abort', onAbort)
    }
  }

  /** Drops every connection; calls still in flight fail. */
  async close (): Promise<void> {
    await Promise.all([...this.pools.values()].map(({ pool }) => pool.destroy()))
  }
}
