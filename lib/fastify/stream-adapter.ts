import type { FastifyReply, FastifyRequest } from 'fastify'
import type { OutgoingHttpHeaders } from 'node:http'
import { parse as parseQuery } from 'node:querystring'
import type { HeaderMap } from '../abi/header-map'
import type { LocalReply, StreamAdapter } from '../context/adapter'
import type { HttpStream } from '../context/http-stream'
import { PinoSink, type PinoLike } from '../context/logger'
import type { LogSink } from '../host/types'
import { errors } from '../errors'
import { isHopByHop, requestHeaderMap, responseHeaderMap, toNodeHeaders } from './headers'
import { FastifyStreamInfo } from './stream-info'

/**
 * The filter chain's view of one Fastify request: it builds header maps from
 * the request and reply, writes the filters' edits back, and sends local
 * replies. Knows nothing of Wasm memory.
 */
export class FastifyStreamAdapter implements StreamAdapter {
  readonly info: FastifyStreamInfo
  stream!: HttpStream
  /** A local reply decided during the request phase, sent by the hook. */
  localReply: LocalReply | undefined
  private respNames: string[] = []

  constructor (readonly request: FastifyRequest, readonly reply: FastifyReply) {
    this.info = new FastifyStreamInfo(request)
  }

  loadRequestHeaders (): HeaderMap {
    const raw = this.request.raw
    const scheme = (raw.socket as { encrypted?: boolean } | null)?.encrypted === true ? 'https' : 'http'
    return requestHeaderMap(raw.method ?? 'GET', raw.url ?? '/', scheme, raw.rawHeaders, raw.headers)
  }

  loadResponseHeaders (): HeaderMap {
    const headers = this.reply.getHeaders()
    const map = responseHeaderMap(this.reply.statusCode, headers as OutgoingHttpHeaders)
    this.respNames = Object.keys(headers)
    return map
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

  /** Writes the filters' request-header edits back into the request. */
  commitRequestHeaders (): void {
    const map = this.stream.finalRequestHeaders
    if (map === undefined || !map.dirty) return
    const raw = this.request.raw
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
    Object.assign(headers, next)
    const rawHeaders: string[] = []
    for (const name of Object.keys(headers)) {
      const v = headers[name]
      if (v === undefined) continue
      if (Array.isArray(v)) for (const x of v) rawHeaders.push(name, x)
      else rawHeaders.push(name, v)
    }
    raw.rawHeaders = rawHeaders
  }

  /** Writes the filters' response-header edits (and :status) to the reply. */
  commitResponseHeaders (): void {
    const map = this.stream.finalResponseHeaders
    if (map === undefined || !map.dirty) return
    const reply = this.reply
    const status = Number(map.get(':status'))
    if (status !== reply.statusCode) reply.code(status)
    const next = toNodeHeaders(map)
    const connection = reply.getHeader('connection') as string | undefined
    for (const name of this.respNames) {
      if (next[name] === undefined && !isHopByHop(name, connection)) reply.removeHeader(name)
    }
    for (const name of Object.keys(next)) reply.header(name, next[name])
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
    reply.send(r.body)
  }

  /** A response-phase replacement: the body to send instead of the route's. */
  replacementBody (r: LocalReply): Buffer {
    const reply = this.reply
    if (r.failure !== undefined) {
      const err = vmFailedError(r)
      reply.log.error({ err }, err.message)
      reply.code(503)
      for (const name of Object.keys(reply.getHeaders())) reply.removeHeader(name)
      reply.header('content-type', 'application/json; charset=utf-8')
      return Buffer.from(JSON.stringify({ statusCode: 503, code: err.code, error: 'Service Unavailable', message: err.message }))
    }
    this.request.log.info({ filter: r.plugin, statusCode: r.status, details: r.details }, 'proxy-wasm: local reply')
    reply.code(r.status)
    for (const name of Object.keys(reply.getHeaders())) reply.removeHeader(name)
    applyLocalHeaders(reply, r)
    return r.body
  }
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
  if (r.body.length > 0 && grouped['content-type'] === undefined) reply.header('content-type', 'text/plain; charset=utf-8')
}

function vmFailedError (r: LocalReply) {
  const f = r.failure!
  return new errors.VmFailed(`filter ${JSON.stringify(f.plugin)} is unavailable: its VM failed in ${f.callback}`)
}
