import { BufferType, LogLevel, MapType, StreamType } from '../abi/enums'
import { HeaderMap } from '../abi/header-map'
import { WasmResult } from '../abi/status'
import type { HostBuffer, LocalResponse, LogSink } from '../host/types'
import type { LocalReply, StreamAdapter } from './adapter'
import { StreamContext } from './contexts'
import { holdForPause, releasePause } from './keep-alive'
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
  continued: boolean
  local: LocalReply | undefined
  close: boolean
}

/**
 * One request through a chain of filters: request callbacks in chain order,
 * response callbacks in reverse, then on_log, on_done and on_delete for
 * every filter that saw the request. Pauses until a filter continues, and
 * turns local replies, resets and VM failures into outcomes.
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
  private index = 0
  private eos = false
  private running: StreamContext | undefined
  private readonly pending: Pending = { continued: false, local: undefined, close: false }
  private pausedAt = -1
  private waiter: ((o: Outcome) => void) | undefined
  private queuedLocal: LocalReply | undefined

  constructor (plugins: readonly Plugin[], private readonly adapter: StreamAdapter) {
    this.slots = plugins.map(plugin => ({ plugin, ctx: undefined, entered: false, skipped: false }))
  }

  get info (): StreamInfo {
    return this.adapter.info
  }

  get paused (): boolean {
    return this.pausedAt >= 0
  }

  /** Live stream contexts of this request (leak checks, tests). */
  get contextCount (): number {
    let n = 0
    for (const s of this.slots) if (s.ctx !== undefined) n++
    return n
  }

  makeSink (filter: string, contextId: number): LogSink {
    return this.adapter.makeSink(filter, contextId)
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
    return this.phase === Phase.Request
  }

  responseHeadersWritable (): boolean {
    return this.phase === Phase.Response
  }

  headerMap (type: MapType): HeaderMap | undefined {
    if (type === MapType.RequestHeaders) return this.requestHeaders()
    if (type === MapType.ResponseHeaders) return this.respMap
    return undefined
  }

  headerMapWritable (type: MapType): boolean {
    if (type === MapType.RequestHeaders) return this.phase === Phase.Request
    if (type === MapType.ResponseHeaders) return this.phase === Phase.Response
    return false
  }

  buffer (_type: BufferType): HostBuffer | undefined {
    return undefined
  }

  /** The request headers as filters left them, once the request phase ended. */
  get finalRequestHeaders (): HeaderMap | undefined {
    return this.reqMap
  }

  get finalResponseHeaders (): HeaderMap | undefined {
    return this.respMap
  }

  // ---- phases -------------------------------------------------------------

  /** proxy_on_request_headers through the chain, in order. */
  runRequestHeaders (endOfStream: boolean): Outcome | Promise<Outcome> {
    this.phase = Phase.Request
    this.eos = endOfStream
    this.index = 0
    this.requestHeaders()
    const o = this.stepRequest()
    return o ?? this.pause()
  }

  /** proxy_on_response_headers through the filters that saw the request, in reverse. */
  runResponseHeaders (endOfStream: boolean): Outcome | Promise<Outcome> {
    if (this.phase >= Phase.Sent) return Outcome.Continue
    this.phase = Phase.Response
    this.respMap = this.adapter.loadResponseHeaders()
    const queued = this.queuedLocal
    if (queued !== undefined) {
      this.queuedLocal = undefined
      return this.deliverLocal(queued)
    }
    this.eos = endOfStream
    this.index = this.slots.length - 1
    const o = this.stepResponse()
    return o ?? this.pause()
  }

  /** The response headers have gone to the client: maps are read-only now. */
  responseSent (): void {
    if (this.phase < Phase.Sent) this.phase = Phase.Sent
  }

  private pause (): Promise<Outcome> {
    holdForPause()
    return new Promise(resolve => { this.waiter = resolve })
  }

  private settle (o: Outcome): void {
    const w = this.waiter
    this.waiter = undefined
    this.pausedAt = -1
    if (w !== undefined) {
      releasePause()
      w(o)
    }
  }

  private stepRequest (): Outcome | undefined {
    const slots = this.slots
    while (this.index < slots.length) {
      const i = this.index
      const s = slots[i]
      this.index = i + 1
      if (s.skipped) continue
      const vm = s.plugin.vm
      const cb = vm.cb.requestHeaders
      let action: number | undefined = 0
      const ctx = this.ensureContext(s)
      if (ctx !== undefined) {
        s.entered = true
        if (cb !== undefined) {
          this.running = ctx
          action = vm.invoke(ctx, 'proxy_on_request_headers', cb, ctx.id, this.reqMap!.size, this.eos ? 1 : 0)
          this.running = undefined
        }
      }
      if (vm.wasm.failed) {
        const o = this.failed(s)
        if (o !== undefined) return o
        continue
      }
      const o = this.takePending()
      if (o !== undefined) return o
      if (action !== 0 && !this.takeContinue()) {
        this.pausedAt = i
        return undefined
      }
    }
    this.phase = Phase.Upstream
    return Outcome.Continue
  }

  private stepResponse (): Outcome | undefined {
    const slots = this.slots
    while (this.index >= 0) {
      const i = this.index
      const s = slots[i]
      this.index = i - 1
      if (!s.entered || s.skipped || s.ctx === undefined) continue
      const vm = s.plugin.vm
      const cb = vm.cb.responseHeaders
      let action: number | undefined = 0
      if (cb !== undefined && !vm.wasm.failed) {
        this.running = s.ctx
        action = vm.invoke(s.ctx, 'proxy_on_response_headers', cb, s.ctx.id, this.respMap!.size, this.eos ? 1 : 0)
        this.running = undefined
      }
      if (vm.wasm.failed) {
        const o = this.failed(s)
        if (o !== undefined) return o
        continue
      }
      const o = this.takePending()
      if (o !== undefined) return o
      if (action !== 0 && !this.takeContinue()) {
        this.pausedAt = i
        return undefined
      }
    }
    return Outcome.Continue
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

  private takeContinue (): boolean {
    const c = this.pending.continued
    this.pending.continued = false
    return c
  }

  /** Actions a filter asked for during its own callback, applied once it returned. */
  private takePending (): Outcome | undefined {
    const p = this.pending
    if (p.close) {
      p.close = false
      p.local = undefined
      return this.reset()
    }
    const local = p.local
    if (local !== undefined) {
      p.local = undefined
      p.continued = false
      return this.deliverLocal(local)
    }
    return undefined
  }

  private reset (): Outcome {
    this.phase = Phase.Sent
    this.responseDetails = 'wasm_close_stream'
    this.adapter.reset()
    return Outcome.Reset
  }

  private deliverLocal (reply: LocalReply): Outcome {
    this.responseDetails = reply.details
    if (this.phase === Phase.Request) {
      this.phase = Phase.Upstream
      this.adapter.sendLocalReply(reply)
      return Outcome.Replied
    }
    if (this.phase === Phase.Response) {
      this.replacement = reply
      // What on_log and later reads see is the reply, not the route's response.
      this.respMap = new HeaderMap([':status', String(reply.status), ...reply.headers])
      return Outcome.Replied
    }
    // Between the phases: answer when the response phase starts.
    this.queuedLocal = reply
    return Outcome.Replied
  }

  /** The filter's VM has failed: bypass it (fail open) or answer 503 (fail closed). */
  private failed (s: Slot): Outcome | undefined {
    s.skipped = true
    if (s.plugin.info.failOpen) return undefined
    const f = s.plugin.vm.wasm.failure
    return this.deliverLocal({
      status: 503,
      headers: [],
      body: Buffer.alloc(0),
      details: 'wasm_fail_stream',
      failure: { plugin: s.plugin.name, callback: f?.callback ?? 'unknown', message: f?.message ?? 'VM failed' }
    })
  }

  // ---- what filters ask for -----------------------------------------------

  continueFrom (ctx: StreamContext, type: StreamType): WasmResult {
    if (type !== StreamType.Request && type !== StreamType.Response) return WasmResult.Unimplemented
    if (this.running === ctx) {
      this.pending.continued = true
      return WasmResult.Ok
    }
    const phase = type === StreamType.Request ? Phase.Request : Phase.Response
    if (this.pausedAt === ctx.index && this.phase === phase) {
      ctx.vm.afterCall(() => this.resume(ctx.index, phase))
    }
    return WasmResult.Ok
  }

  private resume (at: number, phase: Phase): void {
    if (this.pausedAt !== at || this.phase !== phase) return
    this.pausedAt = -1
    const o = phase === Phase.Request ? this.stepRequest() : this.stepResponse()
    if (o !== undefined) this.settle(o)
  }

  closeFrom (ctx: StreamContext, type: StreamType): WasmResult {
    if (type !== StreamType.Request && type !== StreamType.Response) return WasmResult.Unimplemented
    if (this.phase >= Phase.Log) return WasmResult.Ok
    if (this.running === ctx) {
      this.pending.close = true
      return WasmResult.Ok
    }
    ctx.vm.afterCall(() => {
      if (this.phase >= Phase.Log) return
      const wasPaused = this.paused
      const o = this.reset()
      if (wasPaused) this.settle(o)
    })
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
      if (this.phase >= Phase.Sent) return
      const wasPaused = this.paused
      const o = this.deliverLocal(reply)
      if (wasPaused) this.settle(o)
    })
    return WasmResult.Ok
  }

  /** A VM of this chain failed outside this stream's own callbacks. */
  vmFailed (ctx: StreamContext): void {
    if (this.running === ctx || this.pausedAt !== ctx.index) return
    ctx.vm.afterCall(() => {
      if (this.pausedAt !== ctx.index) return
      const phase = this.phase
      const s = this.slots[ctx.index]
      this.pausedAt = -1
      const o = this.failed(s) ?? (phase === Phase.Request ? this.stepRequest() : this.stepResponse())
      if (o !== undefined) this.settle(o)
    })
  }

  // ---- the end ------------------------------------------------------------

  /** The request is over (response sent, client gone, or reset): log, done, delete. */
  finish (): void {
    if (this.phase >= Phase.Log) return
    const wasPaused = this.paused
    this.phase = Phase.Log
    if (wasPaused) this.settle(Outcome.Gone)
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
  }
}
