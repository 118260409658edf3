import { createHash } from 'node:crypto'
import type { ClusterSpec } from '../config/clusters'
import type { PluginSpec } from '../config/types'
import { errors } from '../errors'
import { compileModule, ModuleError, type CompiledModule } from '../vm/module'
import type { StreamAdapter } from './adapter'
import { HttpStream } from './http-stream'
import { GrpcChannels } from './grpc-channels'
import { PinoSink, type PinoLike } from './logger'
import { MetricsRegistry } from './metrics'
import { Plugin } from './plugin'
import { ProxyVm, VmStartError } from './proxy-vm'
import { Upstreams } from './upstreams'

export interface HostOptions {
  /** The application logger; filters log through it outside requests. */
  logger: PinoLike
  /** How long a root context that answered false from on_done may take to call proxy_done. */
  shutdownGraceMs: number
  /** Most body bytes a filter may hold back before the client gets 413 (request) or 500 (response); also the limit of a callout's response body. */
  bodyLimit: number
  /** The upstreams proxy_http_call may reach, by name. */
  clusters?: ClusterSpec[]
}

export interface VmStats {
  vmId: string
  abi: string
  plugins: string[]
  failed: boolean
  failure?: { callback: string, message: string }
  /** Stream contexts alive right now. */
  streamContexts: number
  memoryBytes: number
}

// Which configuration key a start failure points at.
const FAILURE_KEY: Record<string, string> = {
  proxy_on_context_create: 'root_id',
  proxy_on_vm_start: 'vm_config.configuration',
  proxy_on_configure: 'configuration'
}

/**
 * Every configured filter, started: modules compiled once, VMs shared by
 * plugins with the same vm_id, code, VM configuration and environment
 * (each with its own root context), roots started and configured.
 */
export class WasmHost {
  readonly byName = new Map<string, Plugin>()
  /** This app's metrics: what filters define and the host's figures. */
  readonly metrics = new MetricsRegistry()
  private closed = false
  private readonly upstreams: Upstreams
  private readonly grpc: GrpcChannels

  private constructor (readonly plugins: Plugin[], readonly vms: ProxyVm[], private readonly options: HostOptions) {
    for (const p of plugins) this.byName.set(p.name, p)
    this.upstreams = new Upstreams(options.clusters ?? [], options.bodyLimit)
    this.metrics.vmMemory = () => this.stats().map(s => ({ vmId: s.vmId, filters: s.plugins, bytes: s.memoryBytes }))
    this.grpc = new GrpcChannels(options.clusters ?? [])
  }

  static async start (specs: PluginSpec[], options: HostOptions): Promise<WasmHost> {
    const modules = new Map<string, Promise<CompiledModule>>()
    const vms = new Map<string, ProxyVm>()
    const plugins: Plugin[] = []
    const host = new WasmHost(plugins, [], options)
    try {
      for (const spec of specs) {
        const sha = createHash('sha256').update(spec.vm.code).digest('hex')
        let compiling = modules.get(sha)
        if (compiling === undefined) {
          compiling = compileModule(spec.vm.code)
          modules.set(sha, compiling)
        }
        let compiled: CompiledModule
        try {
          compiled = await compiling
        } catch (err) {
          if (err instanceof ModuleError) {
            throw new errors.Module(`${spec.source}: ${spec.keyPrefix}${spec.vmKey}.code: ${spec.vm.codeSource}: ${err.message}`)
          }
          throw err
        }
        const key = createHash('sha256')
          .update(spec.vm.vmId).update('\0').update(sha).update('\0')
          .update(spec.vm.configuration).update('\0').update(spec.vm.environ.join('\0'))
          .digest('hex')
        let vm = vms.get(key)
        if (vm === undefined) {
          try {
            vm = ProxyVm.create(compiled, {
              vmId: spec.vm.vmId,
              vmConfiguration: spec.vm.configuration,
              environ: spec.vm.environ,
              log: new PinoSink(options.logger, spec.name, 0),
              upstreams: host.upstreams,
              metrics: host.metrics,
              grpc: host.grpc,
              grpcMessageLimit: options.bodyLimit
            })
          } catch (err) {
            if (err instanceof VmStartError) throw new errors.Start(`${spec.source}: ${spec.keyPrefix}${spec.vmKey}.code: ${spec.vm.codeSource}: ${err.message}`)
            throw err
          }
          vms.set(key, vm)
          host.vms.push(vm)
          host.watchFailures(vm)
        }
        const info = { name: spec.name, rootId: spec.rootId, vmId: spec.vm.vmId, configuration: spec.configuration, failOpen: spec.failOpen, allowStopIteration: spec.allowStopIteration, source: spec.source }
        const root = vm.newRootContext(info, id => new PinoSink(options.logger, spec.name, id))
        const plugin = new Plugin(info, vm, root)
        plugins.push(plugin)
        host.metrics.addFilter(plugin.name)
        host.byName.set(plugin.name, plugin)
        try {
          vm.startRoot(root)
        } catch (err) {
          if (err instanceof VmStartError) {
            const key = (FAILURE_KEY[err.callback] ?? 'vm_config').replace('vm_config', spec.vmKey)
            throw new errors.Start(`${spec.source}: ${spec.keyPrefix}${key}: filter ${JSON.stringify(spec.name)} (root_id ${JSON.stringify(spec.rootId)}): ${err.message}`)
          }
          throw err
        }
      }
    } catch (err) {
      await host.close()
      throw err
    }
    return host
  }

  private watchFailures (vm: ProxyVm): void {
    vm.wasm.onFail((callback, message) => {
      const owner = vm.ownerRoot()
      if (owner !== undefined) this.metrics.countVmFailure(owner.plugin.name)
      const names = this.plugins.filter(p => p.vm === vm).map(p => p.name)
      this.options.logger.error(
        { vmId: vm.options.vmId, filters: names, callback },
        `proxy-wasm: the VM of ${names.join(', ')} failed in ${callback}: ${message}`
      )
    })
  }

  /** Requests in flight, for draining at close. */
  private readonly streams = new Set<HttpStream>()
  private readonly onStreamFinish = (s: HttpStream): void => { this.streams.delete(s) }

  /** A request through `chain`. */
  stream (chain: readonly Plugin[], adapter: StreamAdapter): HttpStream {
    const s = new HttpStream(chain, adapter, { bodyLimit: this.options.bodyLimit, onFinish: this.onStreamFinish, metrics: this.metrics })
    this.streams.add(s)
    return s
  }

  /**
   * The app is closing: filters get the grace period to settle requests they
   * hold (a callout may still answer); then callouts are cancelled and every
   * request still held gets a 503, so the close never waits on a filter.
   */
  async drain (): Promise<void> {
    const deadline = Date.now() + this.options.shutdownGraceMs
    while (Date.now() < deadline && [...this.streams].some(s => s.paused)) {
      await new Promise(resolve => setTimeout(resolve, 10))
    }
    this.cancelCallouts()
    for (const s of this.streams) if (s.paused) s.shutdown()
  }

  /** Aborts every callout in flight; none is delivered (the app is closing). */
  cancelCallouts (): void {
    for (const vm of this.vms) vm.callouts.cancelAll()
    for (const vm of this.vms) vm.grpcCallouts.cancelAll()
  }

  /** Callouts cancelled, root on_done/on_delete for every plugin, timers stop, connections close. */
  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.cancelCallouts()
    await Promise.all(this.plugins.map(p => p.vm.stopRoot(p.root, this.options.shutdownGraceMs)))
    // A root's on_done may still have called out: those are dropped too.
    this.cancelCallouts()
    await this.upstreams.close()
    await this.grpc.close()
  }

  stats (): VmStats[] {
    return this.vms.map(vm => ({
      vmId: vm.options.vmId,
      abi: vm.abi,
      plugins: this.plugins.filter(p => p.vm === vm).map(p => p.name),
      failed: vm.wasm.failed,
      failure: vm.wasm.failure,
      streamContexts: vm.streamContexts().length,
      memoryBytes: vm.mem.byteLength
    }))
  }
}
