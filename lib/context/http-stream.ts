import { BufferType, LogLevel, MapType, StreamType } from '../abi/enums'
import { HeaderMap } from '../abi/header-map'
import { WasmResult } from '../abi/status'
import type { HostBuffer, LocalResponse, LogSink } from '../host/types'
import type { LocalReply, StreamAdapter } from './adapter'
import { StreamContext } from './contexts'
import { DIVERTED, Direction, type DirectionDriver } from './direction'
import { holdForPause, releasePause } from './keep-alive'
import type { MetricsRegistry } from './metrics'
import type { Plugin } from './plugin'
import type { StreamInfo } from './stream-info'

/** How a phase of the chain ended, for the server layer. */
export enum Outcome {
  /** Go on: run the route, or send the response. */
  Continue = 0,
  /** A local reply (or a fail-closed 503) answers instead. */
  Replied = 1,
  /** The stream was reset (proxy_close_stream). */
  Reset = 2,
  /** The client went away while the chain was paused. */
  Gone = 3
}

enum Phase { Idle, Request, Upstream, Response, Sent, Log, Done }

interface Slot {
  readonly plugin: Plugin
  ctx: StreamContext | undefined
  /** Saw the request headers, so it sees the response too. */
  entered: boolean
  /** Its VM failed and the plugin fails open: bypassed from now on. */
  skipped: boolean
}

interface Pending {
  local: LocalReply | undefined
  close: boolean
}

type Dir = 'request' | 'response'

export interface StreamOptions {
  /** Most body bytes a filter may hold back (StopIterationAndBuffer) before the client gets 413/500. */
  bodyLimit: number
  /** Called once when the stream has ended (after on_delete). */
  onFinish?: (stream: HttpStream) => void
  /** Where requests and local replies are counted, per filter. */
  metrics?: MetricsRegistry
}

/**
 * One request through a chain of filters: request callbacks in chain order,
 * response callbacks in reverse, then on_log, on_done and on_delete for
 * every filter that saw the request. Headers, body and trailers flow per
 * direction (see Direction); this class runs the callbacks and turns local
 * replies, resets and VM failures into outcomes for the server layer.
 */
export class HttpStream {
  /** Properties filters set during this request (Envoy's filter state). */
  readonly props = new Map<string, Buffer>()
  /** The details of the local reply that answered, if any. */
  responseDetails: string | undefined
  /** After a response phase that answered Replied: the response to send. */
  replacement: LocalReply | undefined

  private phase = Phase.Idle
  private readonly slots: Slot[]
  private reqMap: HeaderMap | undefined
  private respMap: HeaderMap | undefined
  private readonly req: Direction
  private res: Direction | undefined
  /** Response positions -> slot indices (the filters that saw the request, reversed). */
  private resOrder: number[] = []
  private running: StreamContext | undefined
  private runningDir: Dir | undefined
  /** The body callback in progress (its buffer is the one get/set_buffer_bytes see). */
  private bodyCall: { dir: Dir, position: number, eos: boolean } | undefined
  private readonly pending: Pending = { local: undefined, close: false }
  private waiter: ((o: Outcome) => void) | undefined
  private waiterDir: Dir | undefined
  private queuedLocal: LocalReply | undefined
  private outcome: Outcome | undefined
  /** The response phase ends at the first body byte out of the chain, not at the headers. */
  private waitForBody = false
  private resReleased = false
  private resStarted = false

  constructor (plugins: readonly Plugin[], private readonly adapter: StreamAdapter, private readonly options: StreamOptions) {
    this.slots = plugins.map(plugin => ({ plugin, ctx: undefined, entered: false, skipped: false }))
    this.req = new Direction(this.slots.length, new RequestDriver(this), options.bodyLimit)
  }

  get info (): StreamInfo {
    return this.adapter.info
  }

  /** Whether a phase is waiting on a filter. */
  get paused (): boolean {
    return this.waiter !== undefined
  }

  makeSink (filter: string, contextId: number): LogSink {
    return this.adapter.makeSink(filter, contextId)
  }

  /** Whether any filter of the chain takes request body (or trailer) callbacks. */
  get wantsRequestBody (): boolean {
    return this.slots.some(s => s.plugin.vm.cb.requestBody !== undefined || s.plugin.vm.cb.requestTrailers !== undefined)
  }

  /** Whether any filter that saw the request takes response body (or trailer) callbacks. */
  get wantsResponseBody (): boolean {
    return this.slots.some(s => s.entered && !s.skipped && (s.plugin.vm.cb.responseBody !== undefined || s.plugin.vm.cb.responseTrailers !== undefined))
  }

  // ---- what contexts read -------------------------------------------------

  requestHeaders (): HeaderMap {
    this.reqMap ??= this.adapter.loadRequestHeaders()
    return this.reqMap
  }

  responseHeaders (): HeaderMap | undefined {
    return this.respMap
  }

  requestHeadersWritable (): boolean {
    return this.phase === Phase.Request && !this.req.released
  }

  responseHeadersWritable (): boolean {
    return this.phase === Phase.Response && this.res !== undefined && !this.res.released
  }

  headerMap (type: MapType): HeaderMap | undefined {
    switch (type) {
      case MapType.RequestHeaders: return this.requestHeaders()
      case MapType.ResponseHeaders: return this.respMap
      case MapType.RequestTrailers: return this.trailersOf('request')
      case MapType.ResponseTrailers: return this.trailersOf('response')
      default: return undefined
    }
  }

  /** Trailers exist once the peer sent them, or when a filter adds them at the last body chunk. */
  private trailersOf (dir: Dir): HeaderMap | undefined {
    const d = dir === 'request' ? this.req : this.res
    if (d === undefined) return undefined
    if (d.trailers !== undefined) return d.trailers
    const call = this.bodyCall
    if (call !== undefined && call.dir === dir && call.eos) return d.ensureTrailers(call.position, () => new HeaderMap())
    return undefined
  }

  headerMapWritable (type: MapType): boolean {
    switch (type) {
      case MapType.RequestHeaders: return this.requestHeadersWritable()
      case MapType.ResponseHeaders: return this.responseHeadersWritable()
      case MapType.RequestTrailers: return this.phase < Phase.Log && !this.req.finished
      case MapType.ResponseTrailers: return this.phase < Phase.Log && this.res !== undefined && !this.res.finished
      default: return false
    }
  }

  /** The body a filter's get/set_buffer_bytes act on: during its body callback, or while it holds some. */
  buffer (type: BufferType, ctx: StreamContext): HostBuffer | undefined {
    if (this.phase >= Phase.Log) return undefined
    let dir: Dir
    if (type === BufferType.HttpRequestBody) dir = 'request'
    else if (type === BufferType.HttpResponseBody) dir = 'response'
    else return undefined
    const d = dir === 'request' ? this.req : this.res
    if (d === undefined) return undefined
    const position = dir === 'request' ? ctx.index : this.resOrder.indexOf(ctx.index)
    if (position < 0) return undefined
    const call = this.bodyCall
    const buf = d.bufferAt(position)
    if ((call !== undefined && call.dir === dir && call.position === position) || buf.length > 0) return buf
    return undefined
  }

  /** The request headers as filters left them. */
  get finalRequestHeaders (): HeaderMap | undefined {
    return this.reqMap
  }

  get finalResponseHeaders (): HeaderMap | undefined {
    return this.respMap
  }

  /** Whether the request headers have passed every filter. */
  get requestReleased (): boolean {
    return this.req.released
  }

  /** Whether the body at `dir` has fully passed the chain already (so its size is known). */
  bodyComplete (dir: Dir): boolean {
    const d = dir === 'request' ? this.req : this.res
    return d !== undefined && d.finished
  }

  // ---- phases -------------------------------------------------------------

  /** Request headers through the chain. Resolves when they reach the route (or the stream is answered). */
  runRequestHeaders (endOfStream: boolean): Outcome | Promise<Outcome> {
    this.phase = Phase.Request
    this.requestHeaders()
    this.outcome = undefined
    this.req.start(endOfStream)
    return this.settleOrWait('request')
  }

  /** Request body data arriving from the client. */
  requestData (chunk: Buffer, endOfStream: boolean): void {
    if (this.phase >= Phase.Log) return
    this.info.requestBodySize += chunk.length
    this.req.data(chunk, endOfStream)
  }

  requestEnd (trailers: HeaderMap | undefined): void {
    if (this.phase >= Phase.Log) return
    this.req.finish(trailers)
  }

  /**
   * Response headers through the filters that saw the request, in reverse.
   * With `waitForBody` (the body goes through the chain too) it resolves
   * when the first body bytes (or the end) come out, so that until then a
   * filter can still replace the whole response.
   */
  runResponseHeaders (endOfStream: boolean, waitForBody = false): Outcome | Promise<Outcome> {
    if (this.phase >= Phase.Sent) return Outcome.Continue
    this.phase = Phase.Response
    this.respMap = this.adapter.loadResponseHeaders()
    this.resOrder = []
    for (let i = this.slots.length - 1; i >= 0; i--) if (this.slots[i].entered) this.resOrder.push(i)
    this.res = new Direction(this.resOrder.length, new ResponseDriver(this), this.options.bodyLimit)
    const queued = this.queuedLocal
    if (queued !== undefined) {
      this.queuedLocal = undefined
      this.replaceResponse(queued)
      return Outcome.Replied
    }
    this.outcome = undefined
    this.waitForBody = waitForBody && !endOfStream
    this.res.start(endOfStream)
    return this.settleOrWait('response')
  }

  responseData (chunk: Buffer, endOfStream: boolean): void {
    if (this.res === undefined || this.phase >= Phase.Log) return
    this.info.responseBodySize += chunk.length
    this.res.data(chunk, endOfStream)
  }

  responseEnd (trailers: HeaderMap | undefined): void {
    if (this.res === undefined || this.phase >= Phase.Log) return
    this.res.finish(trailers)
  }

  /** The response headers have gone to the client: maps are read-only now. */
  responseSent (): void {
    if (this.phase < Phase.Sent) this.phase = Phase.Sent
  }

  private settleOrWait (dir: Dir): Outcome | Promise<Outcome> {
    const o = this.outcome
    if (o !== undefined) {
      this.outcome = undefined
      return o
    }
    holdForPause()
    this.waiterDir = dir
    return new Promise(resolve => { this.waiter = resolve })
  }

  /** Ends the phase in progress: synchronously (outcome) or by resolving its waiter. */
  private conclude (o: Outcome, dir: Dir): void {
    const w = this.waiter
    if (w !== undefined && this.waiterDir === dir) {
      this.waiter = undefined
      this.waiterDir = undefined
      releasePause()
      w(o)
    } else {
      this.outcome = o
    }
  }

  // ---- callbacks ----------------------------------------------------------

  // The direction drivers below delegate here (classes, not closures: no
  // per-request allocation of a dozen functions).

  /** @internal */
  reqHeaders (p: number, eos: boolean): number {
    const s = this.slots[p]
    if (s.skipped) return 0
    // A failed filter that fails open is bypassed: that request never reaches it.
    if (!(s.plugin.failed && s.plugin.info.failOpen)) this.options.metrics?.countRequest(s.plugin.name)
    const ctx = this.ensureContext(s)
    if (ctx === undefined) return this.afterCall(s)
    s.entered = true
    const cb = s.plugin.vm.cb.requestHeaders
    if (cb === undefined) return 0
    const r = this.call(s, ctx, 'request', 'proxy_on_request_headers', cb, this.reqMap!.size, eos ? 1 : 0)
    return this.afterCall(s, r)
  }

  /** @internal */
  respHeaders (p: number, eos: boolean): number {
    const s = this.respSlot(p)
    if (s.skipped || s.ctx === undefined) return 0
    const cb = s.plugin.vm.cb.responseHeaders
    if (cb === undefined || s.plugin.vm.wasm.failed) return this.afterCall(s, 0)
    const r = this.call(s, s.ctx, 'response', 'proxy_on_response_headers', cb, this.respMap!.size, eos ? 1 : 0)
    return this.afterCall(s, r)
  }

  /** @internal */
  trailersOfSlot (dir: Dir, s: Slot, count: number): number {
    const cb = dir === 'request' ? s.plugin.vm.cb.requestTrailers : s.plugin.vm.cb.responseTrailers
    if (cb === undefined || s.ctx === undefined) return 0
    return this.afterCall(s, this.call(s, s.ctx, dir, dir === 'request' ? 'proxy_on_request_trailers' : 'proxy_on_response_trailers', cb, count))
  }

  /** @internal */
  slot (p: number): Slot {
    return this.slots[p]
  }

  /** @internal */
  respSlot (p: number): Slot {
    return this.slots[this.resOrder[p]]
  }

  /** @internal */
  requestReleasedNow (): void {
    if (this.phase === Phase.Request) this.phase = Phase.Upstream
    this.conclude(Outcome.Continue, 'request')
  }

  /** @internal */
  responseReleasedNow (): void {
    if (this.waitForBody) this.resReleased = true
    else this.conclude(Outcome.Continue, 'response')
  }

  /** @internal */
  get streamAdapter (): StreamAdapter {
    return this.adapter
  }

  /** @internal */
  responseStarts (): void {
    if (this.resReleased && !this.resStarted) {
      this.resStarted = true
      this.conclude(Outcome.Continue, 'response')
    }
  }

  /** @internal */
  takesCallback (s: Slot, name: 'requestBody' | 'requestTrailers' | 'responseBody' | 'responseTrailers'): boolean {
    return !s.skipped && s.ctx !== undefined && !s.plugin.vm.wasm.failed && s.plugin.vm.cb[name] !== undefined
  }

  /** @internal */
  callBody (dir: Dir, position: number, s: Slot, size: number, eos: boolean): number {
    const vm = s.plugin.vm
    const cb = dir === 'request' ? vm.cb.requestBody : vm.cb.responseBody
    if (cb === undefined || s.ctx === undefined) return 0
    this.bodyCall = { dir, position, eos }
    const r = this.call(s, s.ctx, dir, dir === 'request' ? 'proxy_on_request_body' : 'proxy_on_response_body', cb, size, eos ? 1 : 0)
    this.bodyCall = undefined
    return this.afterCall(s, r)
  }

  private call (s: Slot, ctx: StreamContext, dir: Dir, name: string, cb: NonNullable<Plugin['vm']['cb']['log']>, a: number, b?: number): number | undefined {
    this.running = ctx
    this.runningDir = dir
    try {
      return s.plugin.vm.invoke(ctx, name, cb, ctx.id, a, b)
    } finally {
      this.running = undefined
      this.runningDir = undefined
    }
  }

  /**
   * After a filter's callback: a failed VM (bypass or 503), then what the
   * filter asked for during the call (reset, local reply). Returns the
   * callback's status, or DIVERTED when the stream was answered.
   */
  private afterCall (s: Slot, r?: number): number {
    if (s.plugin.vm.wasm.failed) {
      if (!s.skipped) {
        s.skipped = true
        if (!s.plugin.info.failOpen) {
          this.pending.local = undefined
          this.pending.close = false
          this.deliverLocal(failureReply(s))
          return DIVERTED
        }
      }
      return 0
    }
    const p = this.pending
    if (p.close) {
      p.close = false
      p.local = undefined
      this.reset()
      return DIVERTED
    }
    const local = p.local
    if (local !== undefined) {
      p.local = undefined
      this.deliverLocal(local)
      return DIVERTED
    }
    return r ?? 0
  }

  /** Creates the filter's stream context (on_context_create) on first use. */
  private ensureContext (s: Slot): StreamContext | undefined {
    if (s.ctx !== undefined) return s.ctx
    const vm = s.plugin.vm
    if (vm.wasm.failed) return undefined
    const root = s.plugin.root
    const index = this.slots.indexOf(s)
    const ctx = vm.newStreamContext(root, id => new StreamContext(vm, id, root, this, index))
    s.ctx = ctx
    const cb = vm.cb.contextCreate
    if (cb !== undefined) vm.invoke(ctx, 'proxy_on_context_create', cb, ctx.id, root.id)
    ctx.created = true
    return vm.wasm.failed ? undefined : ctx
  }

  // ---- answering instead of the route -------------------------------------

  private reset (): void {
    if (this.phase >= Phase.Log) return
    this.phase = Phase.Sent
    this.responseDetails = 'wasm_close_stream'
    this.req.stop()
    this.res?.stop()
    this.adapter.reset()
    this.conclude(Outcome.Reset, this.waiterDir ?? 'request')
  }

  private deliverLocal (reply: LocalReply): void {
    this.responseDetails = reply.details
    const by = reply.plugin ?? reply.failure?.plugin
    if (by !== undefined) this.options.metrics?.countLocalReply(by)
    if (this.phase === Phase.Request) {
      // Before the route: it does not run; the request body goes nowhere.
      this.phase = Phase.Upstream
      this.req.stop()
      this.adapter.sendLocalReply(reply)
      this.conclude(Outcome.Replied, 'request')
      return
    }
    if (this.phase === Phase.Response) {
      // Nothing has gone to the client yet: the reply replaces the response.
      this.replaceResponse(reply)
      this.conclude(Outcome.Replied, 'response')
      return
    }
    if (this.phase === Phase.Upstream) {
      // The route is running: answer when its response arrives.
      this.req.stop()
      this.adapter.requestEnd(undefined)
      this.queuedLocal = reply
      return
    }
    // The response has started: it cannot be replaced any more (Envoy resets).
    this.log(`a local reply (${reply.status}) came after the response started; resetting the stream`)
    this.reset()
  }

  private replaceResponse (reply: LocalReply): void {
    this.res?.stop()
    this.replacement = reply
    // What on_log and later reads see is the reply, not the route's response.
    this.respMap = new HeaderMap([':status', String(reply.status), ...reply.headers])
  }

  /** The server is closing and a filter still holds this request: answer 503. */
  shutdown (): void {
    if (this.phase >= Phase.Sent) return
    this.deliverLocal({
      status: 503,
      headers: [],
      body: Buffer.from('Service Unavailable: the server is shutting down'),
      details: 'wasm_shutdown'
    })
  }

  /** @internal */
  tooLarge (dir: Dir): void {
    const status = dir === 'request' ? 413 : 500
    this.deliverLocal({
      status,
      headers: [],
      body: Buffer.from(dir === 'request' ? 'Payload Too Large' : 'Internal Server Error'),
      details: dir === 'request' ? 'request_payload_too_large' : 'response_payload_too_large'
    })
  }

  private log (message: string): void {
    const s = this.slots[0]
    const sink = s?.ctx?.log
    if (sink !== undefined && sink.enabled(LogLevel.Warn)) sink.write(LogLevel.Warn, message)
  }

  // ---- what filters ask for -----------------------------------------------

  private directionOf (ctx: StreamContext, type: StreamType): { d: Direction, position: number } | undefined {
    if (type === StreamType.Request) return { d: this.req, position: ctx.index }
    if (this.res === undefined) return undefined
    const position = this.resOrder.indexOf(ctx.index)
    return position < 0 ? undefined : { d: this.res, position }
  }

  continueFrom (ctx: StreamContext, type: StreamType): WasmResult {
    if (type !== StreamType.Request && type !== StreamType.Response) return WasmResult.Unimplemented
    const dir: Dir = type === StreamType.Request ? 'request' : 'response'
    const target = this.directionOf(ctx, type)
    if (target === undefined || this.phase >= Phase.Log) return WasmResult.Ok
    if (this.running === ctx && this.runningDir === dir) {
      target.d.continued = true
      return WasmResult.Ok
    }
    ctx.vm.afterCall(() => {
      if (this.phase < Phase.Log) target.d.resume(target.position)
    })
    return WasmResult.Ok
  }

  closeFrom (ctx: StreamContext, type: StreamType): WasmResult {
    if (type !== StreamType.Request && type !== StreamType.Response) return WasmResult.Unimplemented
    if (this.phase >= Phase.Log) return WasmResult.Ok
    if (this.running === ctx) {
      this.pending.close = true
      return WasmResult.Ok
    }
    ctx.vm.afterCall(() => this.reset())
    return WasmResult.Ok
  }

  localResponseFrom (ctx: StreamContext, response: LocalResponse): WasmResult {
    if (this.phase >= Phase.Sent) {
      const log = ctx.log
      if (log.enabled(LogLevel.Warn)) log.write(LogLevel.Warn, `proxy_send_local_response(${response.status}) ignored: the response has already been sent`)
      return WasmResult.Ok
    }
    const reply: LocalReply = { ...response, plugin: ctx.root.plugin.name }
    if (this.running === ctx) {
      this.pending.local = reply
      return WasmResult.Ok
    }
    ctx.vm.afterCall(() => {
      if (this.phase < Phase.Sent) this.deliverLocal(reply)
    })
    return WasmResult.Ok
  }

  /** A VM of this chain failed outside this stream's own callbacks. */
  vmFailed (ctx: StreamContext): void {
    if (this.running === ctx) return
    ctx.vm.afterCall(() => {
      const s = this.slots[ctx.index]
      if (s.skipped || this.phase >= Phase.Log) return
      s.skipped = true
      if (!s.plugin.info.failOpen) {
        if (this.phase < Phase.Sent) this.deliverLocal(failureReply(s))
        return
      }
      // Fail open: whatever this filter held goes on.
      this.req.resume(ctx.index)
      const r = this.directionOf(ctx, StreamType.Response)
      if (r !== undefined) r.d.resume(r.position)
    })
  }

  // ---- the end ------------------------------------------------------------

  /** The request is over (response sent, client gone, or reset): log, done, delete. */
  finish (): void {
    if (this.phase >= Phase.Log) return
    this.phase = Phase.Log
    this.req.stop()
    this.res?.stop()
    const w = this.waiter
    if (w !== undefined) {
      this.waiter = undefined
      releasePause()
      w(Outcome.Gone)
    }
    for (const s of this.slots) {
      const ctx = s.ctx
      const cb = s.plugin.vm.cb.log
      if (ctx !== undefined && ctx.created && cb !== undefined && !s.plugin.vm.wasm.failed) {
        s.plugin.vm.invoke(ctx, 'proxy_on_log', cb, ctx.id)
      }
    }
    for (const s of this.slots) {
      const ctx = s.ctx
      if (ctx === undefined) continue
      const vm = s.plugin.vm
      if (ctx.created && !vm.wasm.failed) {
        if (vm.cb.done !== undefined) vm.invoke(ctx, 'proxy_on_done', vm.cb.done, ctx.id)
        if (vm.cb.delete !== undefined && !vm.wasm.failed) vm.invoke(ctx, 'proxy_on_delete', vm.cb.delete, ctx.id)
      }
      vm.removeContext(ctx)
      s.ctx = undefined
    }
    this.phase = Phase.Done
    this.options.onFinish?.(this)
  }
}

function failureReply (s: Slot): LocalReply {
  const f = s.plugin.vm.wasm.failure
  return {
    status: 503,
    headers: [],
    body: Buffer.alloc(0),
    details: 'wasm_fail_stream',
    failure: { plugin: s.plugin.name, callback: f?.callback ?? 'unknown', message: f?.message ?? 'VM failed' }
  }
}

class RequestDriver implements DirectionDriver {
  constructor (private readonly s: HttpStream) {}
  headers (p: number, _n: number, eos: boolean): number { return this.s.reqHeaders(p, eos) }
  data (p: number, size: number, eos: boolean): number { return this.s.callBody('request', p, this.s.slot(p), size, eos) }
  trailers (p: number, count: number): number { return this.s.trailersOfSlot('request', this.s.slot(p), count) }
  wantsData (p: number): boolean { return this.s.takesCallback(this.s.slot(p), 'requestBody') }
  wantsTrailers (p: number): boolean { return this.s.takesCallback(this.s.slot(p), 'requestTrailers') }
  letsDataIn (p: number): boolean { return this.s.slot(p).plugin.info.allowStopIteration }
  overLimit (): void { this.s.tooLarge('request') }
  released (): void { this.s.requestReleasedNow() }
  emit (chunks: Buffer[]): void { this.s.streamAdapter.requestData(chunks) }
  end (trailers: HeaderMap | undefined): void { this.s.streamAdapter.requestEnd(trailers) }
}

class ResponseDriver implements DirectionDriver {
  constructor (private readonly s: HttpStream) {}
  headers (p: number, _n: number, eos: boolean): number { return this.s.respHeaders(p, eos) }
  data (p: number, size: number, eos: boolean): number { return this.s.callBody('response', p, this.s.respSlot(p), size, eos) }
  trailers (p: number, count: number): number { return this.s.trailersOfSlot('response', this.s.respSlot(p), count) }
  wantsData (p: number): boolean { return this.s.takesCallback(this.s.respSlot(p), 'responseBody') }
  wantsTrailers (p: number): boolean { return this.s.takesCallback(this.s.respSlot(p), 'responseTrailers') }
  letsDataIn (p: number): boolean { return this.s.respSlot(p).plugin.info.allowStopIteration }
  overLimit (): void { this.s.tooLarge('response') }
  released (): void { this.s.responseReleasedNow() }
  emit (chunks: Buffer[]): void {
    this.s.responseStarts()
    this.s.streamAdapter.responseData(chunks)
  }

  end (trailers: HeaderMap | undefined): void {
    this.s.responseStarts()
    this.s.streamAdapter.responseEnd(trailers)
  }
}
