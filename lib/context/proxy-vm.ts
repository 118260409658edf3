import { AbiVersion, LogLevel } from '../abi/enums'
import { buildImports } from '../host'
import { WasmResult } from '../abi/status'
import type { GrpcCallRequest, HostContext, HostVm, HttpCallRequest, LogSink } from '../host/types'
import type { CompiledModule } from '../vm/module'
import { ProcExit, describeTrap } from '../vm/traps'
import { Restriction, WasmVm, type WasmFunction } from '../vm/vm'
import { WA, type WasmInstance, type WasmMemory } from '../vm/wasm-api'
import { ReadOnlyBuffer } from './buffers'
import { HttpCallouts } from './callouts'
import { BaseContext, RootContext, RootPhase, StreamContext, VmContext } from './contexts'
import { MetricsRegistry } from './metrics'
import type { GrpcChannels } from './grpc-channels'
import { GrpcCallouts } from './grpc-callouts'
import type { PluginInfo } from './plugin-info'
import type { Upstreams } from './upstreams'
import { VmMetrics } from './vm-metrics'

/** Callbacks resolved once from the module's exports. */
interface Callbacks {
  contextCreate?: WasmFunction
  vmStart?: WasmFunction
  configure?: WasmFunction
  tick?: WasmFunction
  requestHeaders?: WasmFunction
  responseHeaders?: WasmFunction
  requestBody?: WasmFunction
  responseBody?: WasmFunction
  requestTrailers?: WasmFunction
  responseTrailers?: WasmFunction
  log?: WasmFunction
  httpCallResponse?: WasmFunction
  grpcInitialMetadata?: WasmFunction
  grpcReceive?: WasmFunction
  grpcTrailingMetadata?: WasmFunction
  /** The export grpcTrailingMetadata came from: ABI 0.1.0 SDKs use proxy_on_grpc_trailing_metadata. */
  grpcTrailingMetadataName?: string
  grpcClose?: WasmFunction
  done?: WasmFunction
  delete?: WasmFunction
}

export interface VmOptions {
  vmId: string
  vmConfiguration: Buffer
  /** `KEY=VALUE` strings for WASI's environ. */
  environ: string[]
  /** Sink for the VM context (start, allocation) and for host-side reports. */
  log: LogSink
  /** The clusters proxy_http_call may reach (none: every call answers BadArgument). */
  upstreams?: Upstreams
  /** The app's metrics (default: a registry of this VM's own). */
  metrics?: MetricsRegistry
  /** The clusters proxy_grpc_call/proxy_grpc_stream may reach (none: every call answers ParseFailure). */
  grpc?: GrpcChannels
  /** The largest gRPC message a callout accepts (default 4 MiB, gRPC's usual limit). */
  grpcMessageLimit?: number
}

/** Thrown when a module cannot be started; the config layer adds file and key. */
export class VmStartError extends Error {
  constructor (message: string, readonly callback: string) {
    super(message)
    this.name = 'VmStartError'
  }
}

/**
 * A Proxy-Wasm VM: one instance shared by every request, its contexts and
 * the discipline around calling them. Implements what host functions see.
 */
export class ProxyVm implements HostVm {
  readonly wasm = new WasmVm()
  readonly abi: AbiVersion
  readonly environ: readonly string[]
  readonly vmConfiguration: ReadOnlyBuffer
  readonly contexts = new Map<number, BaseContext>()
  readonly roots: RootContext[] = []
  readonly vmContext: VmContext
  cb: Callbacks = {}
  readonly callouts: HttpCallouts
  readonly registry: MetricsRegistry
  readonly metrics: VmMetrics
  readonly grpcCallouts: GrpcCallouts
  /** The last error-level line logged from the VM context (start code), quoted in failure reports. */
  private lastErrorLog: string | undefined
  private nextId = 1
  private currentCtx: BaseContext
  private effectiveCtx: BaseContext | undefined
  private readonly deferred: (() => void)[] = []

  private constructor (readonly compiled: CompiledModule, readonly options: VmOptions) {
    this.abi = compiled.abi
    this.environ = options.environ
    this.vmConfiguration = new ReadOnlyBuffer(options.vmConfiguration)
    this.vmContext = new VmContext(this, this.recording(options.log, m => { this.lastErrorLog = m }))
    this.currentCtx = this.vmContext
    this.contexts.set(0, this.vmContext)
    this.callouts = new HttpCallouts(this, options.upstreams)
    this.registry = options.metrics ?? new MetricsRegistry()
    this.metrics = new VmMetrics(this.registry, {
      filter: () => this.ownerRoot()?.plugin.name ?? '',
      log: () => this.ctx().log
    })
    this.grpcCallouts = new GrpcCallouts(this, options.grpc, options.grpcMessageLimit ?? 4 * 1024 * 1024)
    // Paused requests learn of a failure that happens in another callback.
    this.wasm.onFail(() => {
      this.callouts.abortAll()
      this.grpcCallouts.cancelAll()
      for (const c of this.streamContexts()) c.stream.vmFailed(c)
    })
  }

  get mem () {
    return this.wasm.mem
  }

  /** Instantiates the module and runs its start code (_initialize + main, or _start). */
  static create (compiled: CompiledModule, options: VmOptions): ProxyVm {
    const vm = new ProxyVm(compiled, options)
    const imports = buildImports(vm, (name, err) => vm.reportHostError(name, err))
    let memory: WasmMemory | undefined
    if (compiled.importedMemory !== undefined) {
      const { module, name, min, max } = compiled.importedMemory
      memory = new WA.Memory({ initial: min, maximum: max })
      ;(imports[module] ??= {})[name] = memory
      vm.wasm.mem.bind(memory)
    }
    vm.wasm.restriction = Restriction.Start
    let instance: WasmInstance
    try {
      instance = new WA.Instance(compiled.module, imports)
    } catch (err) {
      throw new VmStartError(`the module's start function failed: ${describeTrap(err)}`, 'start')
    } finally {
      vm.wasm.restriction = Restriction.None
    }
    memory ??= instance.exports.memory as WasmMemory
    vm.wasm.attach(instance, memory)
    vm.runStartCode()
    vm.resolveCallbacks()
    return vm
  }

  private runStartCode (): void {
    const w = this.wasm
    const steps: string[] = []
    if (w.fn('_initialize') !== undefined) {
      steps.push('_initialize')
      if (w.fn('main') !== undefined) steps.push('main')
      else if (w.fn('__main_void') !== undefined) steps.push('__main_void')
    } else if (w.fn('_start') !== undefined) {
      steps.push('_start')
    }
    for (const name of steps) {
      const fn = w.fn(name) as WasmFunction
      w.restriction = Restriction.Start
      w.depth++
      try {
        fn(0, 0)
      } catch (err) {
        // A command that exits with 0 has simply finished starting.
        if (!(err instanceof ProcExit && err.code === 0)) {
          w.fail(name, describeTrap(err))
          throw new VmStartError(`${name} failed: ${describeTrap(err)}${logHint(this.lastErrorLog)}`, name)
        }
      } finally {
        w.depth--
        w.restriction = Restriction.None
      }
    }
  }

  private resolveCallbacks (): void {
    const f = (n: string) => this.wasm.fn(n)
    this.cb = {
      contextCreate: f('proxy_on_context_create'),
      vmStart: f('proxy_on_vm_start'),
      configure: f('proxy_on_configure'),
      tick: f('proxy_on_tick'),
      requestHeaders: f('proxy_on_request_headers'),
      responseHeaders: f('proxy_on_response_headers'),
      requestBody: f('proxy_on_request_body'),
      responseBody: f('proxy_on_response_body'),
      requestTrailers: f('proxy_on_request_trailers'),
      responseTrailers: f('proxy_on_response_trailers'),
      log: f('proxy_on_log'),
      httpCallResponse: f('proxy_on_http_call_response'),
      grpcInitialMetadata: f('proxy_on_grpc_receive_initial_metadata'),
      grpcReceive: f('proxy_on_grpc_receive'),
      grpcTrailingMetadata: f('proxy_on_grpc_receive_trailing_metadata') ?? f('proxy_on_grpc_trailing_metadata'),
      grpcTrailingMetadataName: f('proxy_on_grpc_receive_trailing_metadata') !== undefined ? 'proxy_on_grpc_receive_trailing_metadata' : 'proxy_on_grpc_trailing_metadata',
      grpcClose: f('proxy_on_grpc_close'),
      done: f('proxy_on_done'),
      delete: f('proxy_on_delete')
    }
  }

  /** A sink that hands error-level lines to `remember`, for failure reports. */
  private recording (inner: LogSink, remember: (message: string) => void): LogSink {
    return {
      enabled: (level) => level >= LogLevel.Error || inner.enabled(level),
      write (level, message) {
        if (level >= LogLevel.Error) remember(message)
        if (inner.enabled(level)) inner.write(level, message)
      },
      level: () => inner.level()
    }
  }

  private reportHostError (name: string, err: unknown): void {
    const log = this.options.log
    if (log.enabled(LogLevel.Error)) log.write(LogLevel.Error, `host function ${name} failed: ${(err as Error)?.stack ?? String(err)}`)
  }

  // ---- HostVm -------------------------------------------------------------

  ctx (): HostContext {
    return this.effectiveCtx ?? this.currentCtx
  }

  current (): HostContext {
    return this.currentCtx
  }

  setEffectiveContext (id: number): boolean {
    const ctx = this.contexts.get(id)
    if (ctx === undefined) return false
    // Id 0 is the VM context: "no effective context".
    this.effectiveCtx = id === 0 ? undefined : ctx
    return true
  }

  callStatus (): { code: number, message: string } {
    return this.rootOf(this.effectiveCtx ?? this.currentCtx)?.calloutStatus ?? NO_STATUS
  }

  httpCall (request: HttpCallRequest): { status: WasmResult, token: number } {
    const origin = this.effectiveCtx ?? this.currentCtx
    const root = this.rootOf(origin)
    // The VM context has no root to deliver to (it is current only while starting or allocating).
    if (root === undefined) return { status: WasmResult.BadArgument, token: 0 }
    return this.callouts.dispatch(root, origin, request)
  }

  /** The root whose filter the running code works for (metrics, failure counts); the first root outside any. */
  ownerRoot (): RootContext | undefined {
    return this.rootOf(this.effectiveCtx ?? this.currentCtx) ?? this.roots[0]
  }

  grpcCall (request: GrpcCallRequest, stream: boolean): { status: WasmResult, token: number } {
    const origin = this.effectiveCtx ?? this.currentCtx
    const root = this.rootOf(origin)
    if (root === undefined) return { status: WasmResult.BadArgument, token: 0 }
    return this.grpcCallouts.dispatch(root, origin, request, stream)
  }

  grpcSend (token: number, message: Buffer, endStream: boolean): WasmResult {
    const root = this.rootOf(this.effectiveCtx ?? this.currentCtx)
    return root === undefined ? WasmResult.NotFound : this.grpcCallouts.send(root, token, message, endStream)
  }

  grpcEnd (token: number, cancel: boolean): WasmResult {
    const root = this.rootOf(this.effectiveCtx ?? this.currentCtx)
    return root === undefined ? WasmResult.NotFound : this.grpcCallouts.end(root, token, cancel)
  }

  /** Callouts and their status belong to the root of the current (or effective) context. */
  private rootOf (ctx: BaseContext): RootContext | undefined {
    if (ctx instanceof RootContext) return ctx
    if (ctx instanceof StreamContext) return ctx.root
    return undefined
  }

  // ---- contexts -----------------------------------------------------------

  private allocId (): number {
    let id = this.nextId
    while (this.contexts.has(id) || id === 0) id = (id + 1) >>> 0
    this.nextId = (id + 1) >>> 0
    return id
  }

  newRootContext (plugin: PluginInfo, makeLog: (id: number) => LogSink): RootContext {
    const id = this.allocId()
    const holder: { root?: RootContext } = {}
    const sink = this.recording(makeLog(id), m => { if (holder.root !== undefined) holder.root.lastErrorLog = m })
    const root = holder.root = new RootContext(this, id, plugin, sink)
    this.contexts.set(id, root)
    this.roots.push(root)
    return root
  }

  newStreamContext (root: RootContext, make: (id: number) => StreamContext): StreamContext {
    const ctx = make(this.allocId())
    this.contexts.set(ctx.id, ctx)
    return ctx
  }

  removeContext (ctx: BaseContext): void {
    this.contexts.delete(ctx.id)
    if (this.effectiveCtx === ctx) this.effectiveCtx = undefined
    this.callouts.contextRemoved(ctx)
    this.grpcCallouts.contextRemoved(ctx)
  }

  /** Stream contexts currently alive (for failure fan-out and leak checks). */
  streamContexts (): StreamContext[] {
    const out: StreamContext[] = []
    for (const c of this.contexts.values()) if (c instanceof StreamContext) out.push(c)
    return out
  }

  // ---- calling ------------------------------------------------------------

  /** Runs `fn` after the outermost VM call returns (or now, if none runs). */
  afterCall (fn: () => void): void {
    if (this.wasm.depth === 0) fn()
    else this.deferred.push(fn)
  }

  /**
   * Calls a callback with `ctx` current and no effective context; restores
   * both afterwards and, once the outermost call returns, runs the deferred
   * actions. Returns undefined if the VM is failed or the call trapped.
   */
  invoke (ctx: BaseContext, name: string, fn: WasmFunction, a?: number, b?: number, c?: number, d?: number, e?: number): number | undefined {
    const prevCurrent = this.currentCtx
    const prevEffective = this.effectiveCtx
    this.currentCtx = ctx
    this.effectiveCtx = undefined
    let r: number | undefined
    try {
      r = this.wasm.call(name, fn, a, b, c, d, e)
    } finally {
      this.currentCtx = prevCurrent
      this.effectiveCtx = prevEffective
    }
    if (this.wasm.depth === 0 && this.deferred.length > 0) this.drain()
    return r
  }

  private drain (): void {
    // Deferred actions may call into the VM again and defer more.
    while (this.deferred.length > 0) {
      const fn = this.deferred.shift() as () => void
      fn()
    }
  }

  // ---- root lifecycle -----------------------------------------------------

  /** on_context_create(root, 0), on_vm_start, on_configure. Throws VmStartError. */
  startRoot (root: RootContext): void {
    const cb = this.cb
    const fail = (callback: string, what: string): never => {
      const trap = this.wasm.failure
      // The trap may come from a nested call (the allocator) rather than the callback itself.
      const detail = trap === undefined
        ? what
        : trap.callback === callback ? `trapped: ${trap.message}` : `failed in ${trap.callback}: ${trap.message}`
      throw new VmStartError(`${callback} ${detail}${logHint(root.lastErrorLog)}`, callback)
    }
    root.phase = RootPhase.Creating
    if (cb.contextCreate !== undefined && this.invoke(root, 'proxy_on_context_create', cb.contextCreate, root.id, 0) === undefined) {
      fail('proxy_on_context_create', 'failed')
    }
    root.phase = RootPhase.Starting
    if (cb.vmStart !== undefined) {
      const r = this.invoke(root, 'proxy_on_vm_start', cb.vmStart, root.id, this.options.vmConfiguration.length)
      if (r === undefined) fail('proxy_on_vm_start', 'failed')
      if (r === 0) fail('proxy_on_vm_start', 'returned false')
    }
    root.phase = RootPhase.Configuring
    if (cb.configure !== undefined) {
      const r = this.invoke(root, 'proxy_on_configure', cb.configure, root.id, root.plugin.configuration.length)
      if (r === undefined) fail('proxy_on_configure', 'failed')
      if (r === 0) fail('proxy_on_configure', 'returned false (the filter rejected its configuration)')
    }
    root.phase = RootPhase.Running
  }

  callTick (root: RootContext): void {
    if (this.cb.tick !== undefined) this.invoke(root, 'proxy_on_tick', this.cb.tick, root.id)
  }

  /** Root on_done, waiting for proxy_done if it answers false, then on_delete. */
  async stopRoot (root: RootContext, graceMs: number): Promise<void> {
    if (root.phase === RootPhase.Deleted) return
    const started = root.phase === RootPhase.Running
    root.phase = RootPhase.Stopping
    const cb = this.cb
    if (!started) {
      // A root that never finished starting gets no shutdown callbacks.
      root.stopTimer()
      root.phase = RootPhase.Deleted
      this.removeContext(root)
      return
    }
    if (cb.done !== undefined && !this.wasm.failed) {
      const r = this.invoke(root, 'proxy_on_done', cb.done, root.id)
      if (r === 0) await root.waitForDone(graceMs)
    }
    root.stopTimer()
    if (cb.delete !== undefined && !this.wasm.failed) this.invoke(root, 'proxy_on_delete', cb.delete, root.id)
    root.phase = RootPhase.Deleted
    this.removeContext(root)
  }
}

const NO_STATUS = { code: 0, message: '' }

function logHint (line: string | undefined): string {
  return line === undefined ? '' : ` (the filter logged: ${line})`
}
