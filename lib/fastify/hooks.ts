import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction, onRequestHookHandler, onSendHookHandler } from 'fastify'
import type { WasmHost } from '../context/host'
import { Outcome } from '../context/http-stream'
import type { ChainResolver } from './routes'
import { FastifyStreamAdapter } from './stream-adapter'

export const kStream = Symbol('fastify-proxy-wasm.stream')
const kChain = Symbol('fastify-proxy-wasm.chain')

type WithStream = FastifyRequest & { [kStream]?: FastifyStreamAdapter | null }

/** Whether the request announces a body (RFC 9112: content-length > 0 or transfer-encoding). */
function hasBody (headers: Record<string, unknown>): boolean {
  if (headers['transfer-encoding'] !== undefined) return true
  const cl = headers['content-length']
  return cl !== undefined && cl !== '0'
}

function isEmptyPayload (payload: unknown): boolean {
  if (payload === null || payload === undefined) return true
  if (typeof payload === 'string') return payload.length === 0
  if (Buffer.isBuffer(payload)) return payload.length === 0
  return false
}

/**
 * The Fastify hooks that drive a request through its filter chain:
 * onRequest runs the request-header callbacks, onSend the response-header
 * callbacks, and the response's close event ends the stream.
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
    reply.raw.once('close', () => stream.finish())
    const o = stream.runRequestHeaders(!hasBody(request.raw.headers))
    if (typeof o === 'number') {
      afterRequestPhase(adapter, o, done)
    } else {
      o.then(r => afterRequestPhase(adapter, r, done), done)
    }
  }

  function afterResponsePhase (adapter: FastifyStreamAdapter, reply: FastifyReply, o: Outcome, payload: unknown, done: (err: Error | null, payload?: unknown) => void): void {
    const stream = adapter.stream
    switch (o) {
      case Outcome.Continue:
        adapter.commitResponseHeaders()
        stream.responseSent()
        done(null, payload)
        break
      case Outcome.Replied: {
        const body = adapter.replacementBody(stream.replacement!)
        stream.responseSent()
        // A streamed payload the reply replaces is not consumed.
        if (payload !== null && typeof payload === 'object' && typeof (payload as { destroy?: unknown }).destroy === 'function') {
          (payload as { destroy: () => void }).destroy()
        }
        done(null, body)
        break
      }
      default:
        break
    }
  }

  const onSend: onSendHookHandler = function (request, reply, payload, done) {
    const adapter = (request as WithStream)[kStream]
    if (adapter === undefined || adapter === null) {
      done(null, payload)
      return
    }
    const o = adapter.stream.runResponseHeaders(isEmptyPayload(payload))
    if (typeof o === 'number') {
      afterResponsePhase(adapter, reply, o, payload, done)
    } else {
      o.then(r => afterResponsePhase(adapter, reply, r, payload, done), done)
    }
  }

  return { onRequest, onSend }
}
