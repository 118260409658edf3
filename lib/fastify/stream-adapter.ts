import type { FastifyReply, FastifyRequest } from 'fastify'
import type { OutgoingHttpHeaders } from 'node:http'
import { parse as parseQuery } from 'node:querystring'
import { Readable } from 'node:stream'
import type { HeaderMap } from '../abi/header-map'
import type { LocalReply, StreamAdapter } from '../context/adapter'
import type { HttpStream } from '../context/http-stream'
import { PinoSink, type PinoLike } from '../context/logger'
import type { LogSink } from '../host/types'
import { errors } from '../errors'
import { BodySink, trailerMap, trailerObject } from './bodies'
import { isHopByHop, requestHeaderMap, responseHeaderMap, toNodeHeaders } from './headers'
import { FastifyStreamInfo } from './stream-info'

/**
 * The filter chain's view of one Fastify request: it builds header maps from
 * the request and reply, writes the filters' edits back, feeds bodies
 * through the chain and sends local replies. Knows nothing of Wasm memory.
 */
export class FastifyStreamAdapter implements StreamAdapter {
  readonly info: FastifyStreamInfo
  stream!: HttpStream
  /** A local reply decided during the request phase, sent by the hook. */
  localReply: LocalReply | undefined
  /** The filtered request body Fastify parses (preParsing returns it). */
  requestBody: BodySink | undefined
  private requestBodyBytes = 0
  /** The filtered response body: collected (string/Buffer payloads) or streamed. */
  private responseSink: BodySink | undefined
  private collected: Buffer[] | undefined
  collectedEnded = false
  responseTrailers: HeaderMap | undefined
  /** The reply's headers when the response phase began, to write back only what filters changed. */
  private respHeaders: OutgoingHttpHeaders = {}

  constructor (readonly request: FastifyRequest, readonly reply: FastifyReply) {
    this.info = new FastifyStreamInfo(request)
  }

  loadRequestHeaders (): HeaderMap {
    const raw = this.request.raw
    const scheme = (raw.socket as { encrypted?: boolean } | null)?.encrypted === true ? 'https' : 'http'
    return requestHeaderMap(raw.method ?? 'GET', raw.url ?? '/', scheme, raw.rawHeaders, raw.headers)
  }

  loadResponseHeaders (): HeaderMap {
    const headers = this.reply.getHeaders() as OutgoingHttpHeaders
    this.respHeaders = headers
    return responseHeaderMap(this.reply.statusCode, headers)
  }

  makeSink (filter: string, contextId: number): LogSink {
    return new PinoSink(this.request.log as unknown as PinoLike, filter, contextId)
  }

  sendLocalReply (reply: LocalReply): void {
    this.localReply = reply
  }

  reset (): void {
    // proxy_close_stream: Envoy resets the stream; the client sees no response.
    const res = this.reply.raw
    if (!res.destroyed) res.destroy()
  }

  // ---- request body -------------------------------------------------------

  /** Reads the client's body into the chain from now on (also while headers are held). */
  interceptRequestBody (): void {
    const raw = this.request.raw
    const stream = this.stream
    const cl = raw.headers['content-length']
    const length = cl !== undefined && /^\d+$/.test(cl) ? Number(cl) : -1
    let received = 0
    this.requestBody = new BodySink(raw)
    raw.on('data', (chunk: Buffer) => {
      received += chunk.length
      // With a content-length the last chunk is known: it carries end_of_stream.
      stream.requestData(chunk, length >= 0 && received >= length)
    })
    raw.on('end', () => stream.requestEnd(trailerMap(raw.rawTrailers)))
  }

  requestData (chunks: Buffer[]): void {
    for (const c of chunks) this.requestBodyBytes += c.length
    this.requestBody?.write(chunks)
  }

  requestEnd (trailers: HeaderMap | undefined): void {
    const raw = this.request.raw
    if (trailers !== undefined) {
      raw.trailers = trailerObject(trailers) as typeof raw.trailers
    }
    // Now the size is known: a route that parsed the body sees its real length.
    if (this.requestBody !== undefined && this.stream.requestReleased) {
      delete raw.headers['transfer-encoding']
      raw.headers['content-length'] = String(this.requestBodyBytes)
      syncRawHeaders(raw)
    }
    this.requestBody?.end()
  }

  // ---- response body ------------------------------------------------------

  /** Collects what passes the chain (string or Buffer payloads, known at once). */
  collectResponse (): void {
    this.collected = []
  }

  /** Streams what passes the chain from `source` (a stream payload). */
  streamResponse (source: Readable): Readable {
    const sink = this.responseSink = new BodySink(source)
    this.responseSource = source
    return sink.out
  }

  private responseSource: Readable | undefined

  /** The request is over: release what still holds sockets or memory (a paused upstream body). */
  dispose (): void {
    const source = this.responseSource
    if (source !== undefined && !source.destroyed) source.destroy()
    const body = this.requestBody?.out
    if (body !== undefined && !body.destroyed && !body.readableEnded) body.destroy()
  }

  /** A collected response turns into a stream when it cannot finish at once. */
  switchToStream (): Readable {
    const sink = this.responseSink = new BodySink({ pause: () => {}, resume: () => {} })
    const done = this.collected ?? []
    this.collected = undefined
    sink.write(done)
    if (this.collectedEnded) this.finishResponseStream()
    return sink.out
  }

  get collectedBody (): Buffer {
    return Buffer.concat(this.collected ?? [])
  }

  responseData (chunks: Buffer[]): void {
    if (this.collected !== undefined) this.collected.push(...chunks)
    else this.responseSink?.write(chunks)
  }

  responseEnd (trailers: HeaderMap | undefined): void {
    this.responseTrailers = trailers !== undefined && trailers.size > 0 ? trailers : undefined
    this.collectedEnded = true
    if (this.collected === undefined) this.finishResponseStream()
  }

  private finishResponseStream (): void {
    const t = this.responseTrailers
    // Trailers go out after the last chunk of a chunked response.
    if (t !== undefined) this.reply.raw.addTrailers(trailerObject(t))
    this.responseSink?.end()
  }

  /** A finished collected body with trailers must go out chunked. */
  collectedWithTrailers (): Readable {
    const body = this.collectedBody
    this.collected = undefined
    this.reply.raw.addTrailers(trailerObject(this.responseTrailers!))
    this.reply.removeHeader('content-length')
    return Readable.from(body.length > 0 ? [body] : [])
  }

  // ---- headers ------------------------------------------------------------

  /** Writes the filters' request-header edits back into the request. */
  commitRequestHeaders (): void {
    const map = this.stream.finalRequestHeaders
    const raw = this.request.raw
    if (map !== undefined && map.dirty) {
      const method = map.get(':method')
      if (method !== undefined && method !== raw.method) raw.method = method
      const path = map.get(':path')
      if (path !== undefined && path !== raw.url) {
        const oldQuery = queryOf(raw.url ?? '')
        raw.url = path
        const newQuery = queryOf(path)
        if (newQuery !== oldQuery) (this.request as { query: unknown }).query = parseQuery(newQuery)
      }
      const next = toNodeHeaders(map)
      const authority = map.get(':authority')
      if (authority !== undefined && authority !== '') next.host = authority
      // Hop-by-hop headers were never shown to filters; they stay.
      const headers = raw.headers as Record<string, string | string[] | undefined>
      const connection = headers.connection as string | undefined
      for (const name of Object.keys(headers)) {
        if (next[name] === undefined && name.charCodeAt(0) !== 58 && !isHopByHop(name, connection)) delete headers[name]
      }
      for (const name of Object.keys(next)) {
        // Connection-level headers a filter adds are not passed on.
        if (isHopByHop(name, undefined) && headers[name] === undefined) delete next[name]
      }
      Object.assign(headers, next)
      syncRawHeaders(raw)
    }
    if (this.requestBody !== undefined) {
      // Filters may change the body's length. If it has passed them already it
      // is known; otherwise it goes on chunked (a gateway forwards it so) and
      // the real length is set once the end has passed.
      if (this.stream.bodyComplete('request')) {
        delete raw.headers['transfer-encoding']
        raw.headers['content-length'] = String(this.requestBodyBytes)
      } else {
        delete raw.headers['content-length']
        raw.headers['transfer-encoding'] = 'chunked'
      }
      syncRawHeaders(raw)
    }
  }

  /** Whether a filter wrote a response header byte above 0x7f (see hooks: string bodies). */
  wroteHighBytes = false

  /** Writes the filters' response-header edits (and :status) to the reply. */
  commitResponseHeaders (): void {
    const map = this.stream.finalResponseHeaders
    const reply = this.reply
    const before = this.respHeaders
    if (map !== undefined && map.dirty) {
      const status = Number(map.get(':status'))
      if (status !== reply.statusCode) reply.code(status)
      // Each value of a repeated header on its own line, as Envoy sends them.
      const next = toNodeHeaders(map, false)
      const connection = before.connection as string | undefined
      for (const name of Object.keys(before)) {
        if (next[name] === undefined && !isHopByHop(name, connection)) reply.removeHeader(name)
      }
      for (const name of Object.keys(next)) {
        // Connection-level headers are the server's, not a filter's to set.
        if (isHopByHop(name, undefined)) continue
        if (!sameValue(before[name], next[name])) {
          reply.header(name, next[name])
          if (highBytes(next[name])) this.wroteHighBytes = true
        }
      }
    }
    if (hasHopByHop(before)) stripHopByHop(reply)
  }

  /** Applies a local reply (or a failure) during the request phase. */
  sendPendingLocalReply (): void {
    const r = this.localReply
    if (r === undefined) return
    this.localReply = undefined
    const reply = this.reply
    if (r.failure !== undefined) {
      reply.send(vmFailedError(r))
      return
    }
    this.request.log.info({ filter: r.plugin, statusCode: r.status, details: r.details }, 'proxy-wasm: local reply')
    reply.code(r.status)
    applyLocalHeaders(reply, r)
    // No body (or a status that has none): nothing that would make Fastify add a content-type.
    if (r.body.length === 0 || bodiless(r.status)) reply.send()
    else reply.send(r.body)
  }

  /** A response-phase replacement: the body to send instead of the route's. */
  replacementBody (r: LocalReply): Buffer {
    const reply = this.reply
    for (const name of Object.keys(reply.getHeaders())) reply.removeHeader(name)
    if (r.failure !== undefined) {
      const err = vmFailedError(r)
      reply.log.error({ err }, err.message)
      reply.code(503)
      reply.header('content-type', 'application/json; charset=utf-8')
      return Buffer.from(JSON.stringify({ statusCode: 503, code: err.code, error: 'Service Unavailable', message: err.message }))
    }
    this.request.log.info({ filter: r.plugin, statusCode: r.status, details: r.details }, 'proxy-wasm: local reply')
    reply.code(r.status)
    applyLocalHeaders(reply, r)
    return bodiless(r.status) ? EMPTY : r.body
  }
}

const EMPTY = Buffer.alloc(0)

/** 204 and 304 responses have no body (RFC 9110). */
export function bodiless (status: number): boolean {
  return status === 204 || status === 304
}

function syncRawHeaders (raw: FastifyRequest['raw']): void {
  const rawHeaders: string[] = []
  for (const [name, v] of Object.entries(raw.headers)) {
    if (v === undefined) continue
    if (Array.isArray(v)) for (const x of v) rawHeaders.push(name, x)
    else rawHeaders.push(name, v)
  }
  raw.rawHeaders = rawHeaders
}

// An upstream's connection-level headers (reply-from copies them) are not the client's.
const UPSTREAM_HOP_BY_HOP = ['keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te']

function hasHopByHop (headers: OutgoingHttpHeaders): boolean {
  if (headers.connection !== undefined) return true
  for (const name of UPSTREAM_HOP_BY_HOP) if (headers[name] !== undefined) return true
  return false
}

// eslint-disable-next-line no-control-regex
const HIGH = /[^\x00-\x7f]/

function highBytes (v: string | string[]): boolean {
  return Array.isArray(v) ? v.some(x => HIGH.test(x)) : HIGH.test(v)
}

function sameValue (a: OutgoingHttpHeaders[string], b: string | string[]): boolean {
  if (Array.isArray(b)) return Array.isArray(a) && a.length === b.length && a.every((v, i) => String(v) === b[i])
  return a !== undefined && !Array.isArray(a) && String(a) === b
}

function stripHopByHop (reply: FastifyReply): void {
  const connection = reply.getHeader('connection')
  if (typeof connection === 'string') {
    for (const t of connection.split(',')) {
      const name = t.trim().toLowerCase()
      if (name !== '' && name !== 'close' && name !== 'keep-alive' && reply.hasHeader(name)) reply.removeHeader(name)
    }
    if (connection.toLowerCase().trim() !== 'close') reply.removeHeader('connection')
  }
  for (const name of UPSTREAM_HOP_BY_HOP) if (reply.hasHeader(name)) reply.removeHeader(name)
}

function queryOf (url: string): string {
  const q = url.indexOf('?')
  return q < 0 ? '' : url.slice(q + 1)
}

function applyLocalHeaders (reply: FastifyReply, r: LocalReply): void {
  const grouped: Record<string, string[]> = {}
  for (let i = 0; i < r.headers.length; i += 2) (grouped[r.headers[i]] ??= []).push(r.headers[i + 1])
  for (const [name, values] of Object.entries(grouped)) reply.header(name, values.length === 1 ? values[0] : values)
  if (r.grpcStatus !== undefined) reply.header('grpc-status', String(r.grpcStatus))
  if (r.body.length > 0 && !bodiless(r.status) && grouped['content-type'] === undefined) reply.header('content-type', 'text/plain; charset=utf-8')
}

function vmFailedError (r: LocalReply) {
  const f = r.failure!
  return new errors.VmFailed(`filter ${JSON.stringify(f.plugin)} is unavailable: its VM failed in ${f.callback}`)
}
