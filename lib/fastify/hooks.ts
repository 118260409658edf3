import type { FastifyRequest, HookHandlerDoneFunction, onRequestHookHandler, onSendHookHandler, preParsingHookHandler } from 'fastify'
import type { Readable } from 'node:stream'
import type { WasmHost } from '../context/host'
import { Outcome } from '../context/http-stream'
import { asNodeStream } from './bodies'
import type { ChainResolver } from './routes'
import { bodiless, FastifyStreamAdapter } from './stream-adapter'

export const kStream = Symbol('fastify-proxy-wasm.stream')
const kChain = Symbol('fastify-proxy-wasm.chain')

type WithStream = FastifyRequest & { [kStream]?: FastifyStreamAdapter | null }
type SendDone = (err: Error | null, payload?: unknown) => void

/** Whether the request announces a body (RFC 9112: content-length > 0 or transfer-encoding). */
function hasBody (headers: Record<string, unknown>): boolean {
  if (headers['transfer-encoding'] !== undefined) return true
  const cl = headers['content-length']
  return cl !== undefined && cl !== '0'
}

/**
 * The Fastify hooks that drive a request through its filter chain:
 * onRequest runs the request headers (and starts reading the body when a
 * filter wants it), preParsing hands the filtered body to Fastify, onSend
 * runs the response headers and body, and the response's close event ends
 * the stream.
 */
export function buildHooks (host: WasmHost, chains: ChainResolver) {
  function chainFor (request: FastifyRequest) {
    const config = request.routeOptions.config as unknown as Record<string | symbol, unknown> | undefined
    if (config === undefined) return host.plugins
    let chain = config[kChain] as ReturnType<ChainResolver['resolve']> | undefined
    if (chain === undefined) {
      chain = chains.resolve(config.proxyWasm, `route ${request.method} ${config.url ?? request.url}`)
      config[kChain] = chain
    }
    return chain
  }

  function afterRequestPhase (adapter: FastifyStreamAdapter, o: Outcome, done: HookHandlerDoneFunction): void {
    switch (o) {
      case Outcome.Continue:
        adapter.commitRequestHeaders()
        done()
        break
      case Outcome.Replied:
        // The route does not run; Fastify continues with onSend.
        adapter.sendPendingLocalReply()
        break
      default:
        // Reset or client gone: nothing more to do for this request.
        break
    }
  }

  const onRequest: onRequestHookHandler = function (request, reply, done) {
    let chain
    try {
      chain = chainFor(request)
    } catch (err) {
      done(err as Error)
      return
    }
    if (chain.length === 0) {
      done()
      return
    }
    const adapter = new FastifyStreamAdapter(request, reply)
    const stream = host.stream(chain, adapter)
    adapter.stream = stream
    ;(request as WithStream)[kStream] = adapter
    // One place ends every stream: after the response, or when the client leaves.
    reply.raw.once('close', () => {
      stream.finish()
      adapter.dispose()
    })
    const body = hasBody(request.raw.headers)
    const o = stream.runRequestHeaders(!body)
    // The body reaches filters even while they hold the headers.
    if (body && stream.wantsRequestBody && o !== Outcome.Replied && o !== Outcome.Reset) adapter.interceptRequestBody()
    if (typeof o === 'number') {
      afterRequestPhase(adapter, o, done)
    } else {
      o.then(r => afterRequestPhase(adapter, r, done), done)
    }
  }

  const preParsing: preParsingHookHandler = function (request, _reply, payload, done) {
    const adapter = (request as WithStream)[kStream]
    const body = adapter?.requestBody
    if (body === undefined) {
      done(null, payload)
      return
    }
    done(null, body.out)
  }

  function sendReplacement (adapter: FastifyStreamAdapter, payload: unknown, done: SendDone): void {
    const body = adapter.replacementBody(adapter.stream.replacement!)
    adapter.stream.responseSent()
    // A streamed payload the reply replaces is not consumed.
    const s = asNodeStream(payload)
    if (s !== undefined) s.destroy()
    done(null, body)
  }

  /** A filter that made the status 204 or 304 made the body go away. */
  function withoutBodyIfNone (adapter: FastifyStreamAdapter, payload: unknown): unknown {
    // Node writes the header block in a string body's encoding (utf8): bytes a
    // filter wrote above 0x7f would change on the wire. A Buffer keeps them.
    if (typeof payload === 'string' && adapter.wroteHighBytes) payload = Buffer.from(payload)
    if (!bodiless(adapter.reply.statusCode)) return payload
    asNodeStream(payload)?.destroy()
    adapter.reply.removeHeader('content-length')
    return ''
  }

  /** Response headers only: the body goes out as the route made it. */
  function headersOnly (adapter: FastifyStreamAdapter, payload: unknown, eos: boolean, done: SendDone): void {
    const after = (o: Outcome) => {
      if (o === Outcome.Continue) {
        adapter.commitResponseHeaders()
        adapter.stream.responseSent()
        done(null, withoutBodyIfNone(adapter, payload))
      } else if (o === Outcome.Replied) {
        sendReplacement(adapter, payload, done)
      }
    }
    const o = adapter.stream.runResponseHeaders(eos)
    if (typeof o === 'number') after(o)
    else o.then(after, done)
  }

  /** A body known at once (string, Buffer): filtered in one go, sent with its exact length. */
  function wholeBody (adapter: FastifyStreamAdapter, payload: string | Buffer, done: SendDone): void {
    const stream = adapter.stream
    adapter.collectResponse()
    const after = (o: Outcome) => {
      if (o === Outcome.Replied) return sendReplacement(adapter, payload, done)
      if (o !== Outcome.Continue) return
      adapter.commitResponseHeaders()
      stream.responseSent()
      if (bodiless(adapter.reply.statusCode)) return done(null, '')
      if (!adapter.collectedEnded) {
        // A filter still holds part of the body: what follows is streamed.
        adapter.reply.removeHeader('content-length')
        return done(null, adapter.switchToStream())
      }
      if (adapter.responseTrailers !== undefined) return done(null, adapter.collectedWithTrailers())
      done(null, adapter.collectedBody)
    }
    const o = stream.runResponseHeaders(false, true)
    stream.responseData(typeof payload === 'string' ? Buffer.from(payload) : payload, true)
    if (typeof o === 'number') after(o)
    else o.then(after, done)
  }

  /** A streamed body: filtered chunk by chunk, never buffered unless a filter asks. */
  function streamedBody (adapter: FastifyStreamAdapter, source: Readable, done: SendDone): void {
    const stream = adapter.stream
    const out = adapter.streamResponse(source)
    const after = (o: Outcome) => {
      if (o === Outcome.Replied) return sendReplacement(adapter, source, done)
      if (o !== Outcome.Continue) {
        source.destroy()
        return
      }
      adapter.commitResponseHeaders()
      // Filters may change the body: its length is not known up front.
      adapter.reply.removeHeader('content-length')
      stream.responseSent()
      done(null, withoutBodyIfNone(adapter, out))
    }
    const o = stream.runResponseHeaders(false, true)
    source.on('data', (chunk: Buffer | string) => stream.responseData(typeof chunk === 'string' ? Buffer.from(chunk) : chunk, false))
    source.on('end', () => stream.responseEnd(undefined))
    source.on('error', (err) => out.destroy(err))
    if (typeof o === 'number') after(o)
    else o.then(after, done)
  }

  const onSend: onSendHookHandler = function (request, _reply, payload, done) {
    const adapter = (request as WithStream)[kStream]
    if (adapter === undefined || adapter === null) {
      done(null, payload)
      return
    }
    const stream = adapter.stream
    const empty = payload === null || payload === undefined || ((typeof payload === 'string' || Buffer.isBuffer(payload)) && payload.length === 0)
    if (empty || !stream.wantsResponseBody) {
      headersOnly(adapter, payload, empty, done)
      return
    }
    if (typeof payload === 'string' || Buffer.isBuffer(payload)) {
      wholeBody(adapter, payload, done)
      return
    }
    const source = asNodeStream(payload)
    if (source === undefined) {
      headersOnly(adapter, payload, false, done)
      return
    }
    streamedBody(adapter, source, done)
  }

  return { onRequest, preParsing, onSend }
}
