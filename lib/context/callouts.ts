import { LogLevel } from '../abi/enums'
import { HeaderMap } from '../abi/header-map'
import { WasmResult } from '../abi/status'
import type { HttpCallRequest, LogSink } from '../host/types'
import { ReadOnlyBuffer } from './buffers'
import type { BaseContext, RootContext } from './contexts'
import type { ProxyVm } from './proxy-vm'
import type { CallOutcome, Upstreams } from './upstreams'

/** What proxy_on_http_call_response lets the filter read (maps 6/7, buffer 4). */
export interface CallResponse {
  headers: HeaderMap
  trailers: HeaderMap
  body: ReadOnlyBuffer
}

interface Call {
  readonly token: number
  /** The root context that owns the call and receives the answer. */
  readonly root: RootContext
  /** The context the filter called from (a stream, or the root itself). */
  readonly origin: BaseContext
  readonly cluster: string
  readonly controller: AbortController
  /** The origin stream has ended: the call completes, but nothing is delivered. */
  orphaned: boolean
}

// Envoy's callout ids: HTTP calls are 4, 8, 12, ... (the low two bits are the kind).
const TOKEN_STEP = 4
const EMPTY = new ReadOnlyBuffer(new Uint8Array(0))

function warn (log: LogSink, message: string): void {
  if (log.enabled(LogLevel.Warn)) log.write(LogLevel.Warn, message)
}

/**
 * A VM's HTTP callouts: unique tokens among its outstanding calls, one
 * abort controller each, and delivery of the answer to the owning root
 * context. Answers to calls whose stream went away are never delivered;
 * calls whose root or VM went away, or made before app.close(), are aborted.
 */
export class HttpCallouts {
  private readonly calls = new Map<number, Call>()
  private nextToken = TOKEN_STEP

  constructor (private readonly vm: ProxyVm, private readonly upstreams: Upstreams | undefined) {}

  dispatch (root: RootContext, origin: BaseContext, request: HttpCallRequest): { status: WasmResult, token: number } {
    const upstreams = this.upstreams
    if (upstreams === undefined || !upstreams.has(request.cluster)) {
      const known = upstreams === undefined || upstreams.names.length === 0
        ? 'no clusters are configured (options.clusters)'
        : `configured clusters: ${upstreams.names.join(', ')}`
      warn(origin.log, `proxy_http_call: filter ${root.plugin.name} asked for unknown cluster ${JSON.stringify(request.cluster)}; ${known}`)
      return { status: WasmResult.BadArgument, token: 0 }
    }
    if (request.trailers.length > 0) {
      warn(origin.log, `proxy_http_call to cluster ${JSON.stringify(request.cluster)}: its ${request.trailers.length / 2} request trailer(s) are not sent (the HTTP client cannot send request trailers)`)
    }
    const call: Call = { token: this.allocToken(), root, origin, cluster: request.cluster, controller: new AbortController(), orphaned: false }
    this.calls.set(call.token, call)
    if (origin.log.enabled(LogLevel.Debug)) {
      origin.log.write(LogLevel.Debug, `proxy_http_call to cluster ${JSON.stringify(request.cluster)}: ${request.method} ${request.path} (token ${call.token})`)
    }
    upstreams.send(request, call.controller.signal)
      .then(outcome => this.complete(call, outcome))
      .catch(err => this.report(call, err))
    return { status: WasmResult.Ok, token: call.token }
  }

  private allocToken (): number {
    let token = this.nextToken
    // Skip tokens still outstanding (after wrap-around) and 0.
    while (token === 0 || this.calls.has(token)) token = (token + TOKEN_STEP) >>> 0
    this.nextToken = (token + TOKEN_STEP) >>> 0
    return token
  }

  private complete (call: Call, outcome: CallOutcome): void {
    // Dropped meanwhile (stream gone, VM failed, app closing).
    if (this.calls.get(call.token) !== call) return
    this.calls.delete(call.token)
    const { vm } = this
    const root = call.root
    vm.registry.countHttpCall(root.plugin.name, !outcome.ok)
    if (vm.wasm.failed || vm.contexts.get(root.id) !== root) return
    if (call.orphaned) {
      const log = root.log
      if (log.enabled(LogLevel.Debug)) {
        log.write(LogLevel.Debug, `proxy_http_call to cluster ${JSON.stringify(call.cluster)} (token ${call.token}): answer dropped, context ${call.origin.id} that made the call has ended`)
      }
      return
    }
    let response: CallResponse
    if (outcome.ok) {
      root.calloutStatus = { code: WasmResult.Ok, message: '' }
      response = {
        headers: new HeaderMap([':status', String(outcome.status), ...outcome.headers]),
        trailers: new HeaderMap(outcome.trailers),
        body: new ReadOnlyBuffer(outcome.body)
      }
    } else {
      root.calloutStatus = { code: WasmResult.BrokenConnection, message: outcome.reason }
      warn(call.origin.log, `proxy_http_call to cluster ${JSON.stringify(call.cluster)} failed (token ${call.token}): ${outcome.reason}: ${outcome.detail}`)
      // Empty rather than absent: SDKs read them even after a failure.
      response = { headers: new HeaderMap(), trailers: new HeaderMap(), body: EMPTY }
    }
    const cb = vm.cb.httpCallResponse
    if (cb === undefined) return
    root.callResponse = response
    try {
      vm.invoke(root, 'proxy_on_http_call_response', cb, root.id, call.token, response.headers.size, response.body.length, response.trailers.size)
    } finally {
      root.callResponse = undefined
    }
  }

  private report (call: Call, err: unknown): void {
    const log = this.vm.options.log
    if (log.enabled(LogLevel.Error)) log.write(LogLevel.Error, `proxy_http_call (token ${call.token}) failed in the host: ${(err as Error)?.stack ?? String(err)}`)
  }

  /**
   * A context was deleted. Calls its root owned are aborted. Calls a stream
   * made still complete (one made from on_log must still reach its
   * upstream, as in Envoy, where the root owns every call) but their answer
   * is not delivered: the SDK would switch to a context that is gone.
   */
  contextRemoved (ctx: BaseContext): void {
    for (const call of this.calls.values()) {
      if (call.root === ctx) this.drop(call)
      else if (call.origin === ctx) call.orphaned = true
    }
  }

  /** The VM failed: nothing can be delivered any more. */
  abortAll (): void {
    for (const call of this.calls.values()) this.drop(call)
  }

  /** The app is closing: abort every call without delivering it (held requests are answered by the host). */
  cancelAll (): void {
    for (const call of [...this.calls.values()]) this.drop(call)
  }

  private drop (call: Call): void {
    this.calls.delete(call.token)
    call.controller.abort()
  }
}
