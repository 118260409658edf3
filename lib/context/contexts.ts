import { BufferType, LogLevel, MapType, StreamType } from '../abi/enums'
import { NO_PSEUDO_HEADERS, REQUEST_PSEUDO_HEADERS, RESPONSE_PSEUDO_HEADERS, type HeaderMap } from '../abi/header-map'
import { splitDotted, type PropertyValue } from '../abi/property'
import { WasmResult } from '../abi/status'
import type { HostBuffer, HostContext, LocalResponse, LogSink } from '../host/types'
import { isWellKnown, setStreamAttribute, streamAttribute } from './attributes'
import { ReadOnlyBuffer } from './buffers'
import type { CallResponse } from './callouts'
import type { GrpcDelivery } from './grpc-callouts'
import type { HttpStream } from './http-stream'
import type { PluginInfo } from './plugin-info'
import type { ProxyVm } from './proxy-vm'

const propertyKey = (path: string[]) => path.join('\0')

/** `request.path` written with dots means the attribute request/path. */
function attributePath (path: string[]): string[] {
  if (path.length === 1 && path[0].includes('.')) {
    const dotted = splitDotted(path[0])
    if (isWellKnown(dotted)) return dotted
  }
  return path
}

/** Behaviour shared by the VM, root and stream contexts. */
export abstract class BaseContext implements HostContext {
  abstract readonly log: LogSink

  constructor (readonly vm: ProxyVm, readonly id: number) {}

  headerMap (_type: MapType): HeaderMap | undefined {
    return undefined
  }

  headerMapWritable (_type: MapType): boolean {
    return false
  }

  pseudoHeaders (type: MapType): readonly string[] {
    if (type === MapType.RequestHeaders) return REQUEST_PSEUDO_HEADERS
    if (type === MapType.ResponseHeaders || type === MapType.HttpCallResponseHeaders) return RESPONSE_PSEUDO_HEADERS
    return NO_PSEUDO_HEADERS
  }

  buffer (type: BufferType): HostBuffer | undefined {
    // Envoy keeps the VM configuration readable at any time.
    if (type === BufferType.VmConfiguration) return this.vm.vmConfiguration
    return undefined
  }

  property (_path: string[]): PropertyValue | undefined {
    return undefined
  }

  setProperty (_path: string[], _key: string, _value: Buffer): WasmResult {
    return WasmResult.NotFound
  }

  // Envoy answers Ok when there is no stream to continue, close or reply to.
  continueStream (_type: StreamType): WasmResult {
    return WasmResult.Ok
  }

  closeStream (_type: StreamType): WasmResult {
    return WasmResult.Ok
  }

  sendLocalResponse (response: LocalResponse): WasmResult {
    if (this.log.enabled(LogLevel.Warn)) {
      this.log.write(LogLevel.Warn, `proxy_send_local_response(${response.status}) ignored: context ${this.id} has no request to answer`)
    }
    return WasmResult.Ok
  }

  setTickPeriod (_ms: number): WasmResult {
    return WasmResult.Ok
  }

  done (): WasmResult {
    return WasmResult.NotFound
  }
}

/** Context 0: current while the module starts and while the host allocates. */
export class VmContext extends BaseContext {
  constructor (vm: ProxyVm, readonly log: LogSink) {
    super(vm, 0)
  }
}

export enum RootPhase { Creating, Starting, Configuring, Running, Stopping, Deleted }

/** A plugin's root context: configuration, timer, and the owner of its streams. */
export class RootContext extends BaseContext {
  phase = RootPhase.Creating
  /** The last error-level line this plugin logged, quoted in failure reports. */
  lastErrorLog: string | undefined
  /** What proxy_get_status reports: the outcome of the last callout delivered here. */
  calloutStatus = { code: 0, message: '' }
  /** The answer proxy_on_http_call_response is delivering. */
  callResponse: CallResponse | undefined
  /** What the running gRPC callback delivers (map 4, map 5 or buffer 5). */
  grpcDelivery: GrpcDelivery | undefined
  private tickMs = 0
  private timer: NodeJS.Timeout | undefined
  private pendingDone: (() => void) | undefined
  private readonly props = new Map<string, Buffer>()
  private readonly pluginConfiguration: ReadOnlyBuffer

  constructor (vm: ProxyVm, id: number, readonly plugin: PluginInfo, readonly log: LogSink) {
    super(vm, id)
    this.pluginConfiguration = new ReadOnlyBuffer(plugin.configuration)
  }

  override buffer (type: BufferType): HostBuffer | undefined {
    if (type === BufferType.PluginConfiguration) {
      return this.phase === RootPhase.Creating || this.phase === RootPhase.Configuring ? this.pluginConfiguration : undefined
    }
    if (type === BufferType.HttpCallResponseBody) return this.delivering()?.body
    if (type === BufferType.GrpcReceiveBuffer) return this.grpcDelivering()?.message
    return super.buffer(type)
  }

  /** Maps 6/7 while proxy_on_http_call_response runs; read-only (headerMapWritable stays false). */
  override headerMap (type: MapType): HeaderMap | undefined {
    if (type === MapType.HttpCallResponseHeaders) return this.delivering()?.headers
    if (type === MapType.HttpCallResponseTrailers) return this.delivering()?.trailers
    if (type === MapType.GrpcInitialMetadata) return this.grpcDelivering()?.initialMetadata
    if (type === MapType.GrpcTrailingMetadata) return this.grpcDelivering()?.trailingMetadata
    return undefined
  }

  /** Like delivering(), for the gRPC callbacks (maps 4/5, buffer 5; read-only). */
  private grpcDelivering (): GrpcDelivery | undefined {
    const d = this.grpcDelivery
    return d !== undefined && this.vm.current() === this ? d : undefined
  }

  /** The callout answer, only while its callback (not what it defers) runs on this root. */
  private delivering (): CallResponse | undefined {
    const r = this.callResponse
    return r !== undefined && this.vm.current() === this ? r : undefined
  }

  override property (path: string[]): PropertyValue | undefined {
    return pluginProperty(this.plugin, path) ?? this.props.get(propertyKey(path))
  }

  override setProperty (path: string[], _key: string, value: Buffer): WasmResult {
    if (isWellKnown(attributePath(path)) || pluginProperty(this.plugin, path) !== undefined) return WasmResult.BadArgument
    this.props.set(propertyKey(path), value)
    return WasmResult.Ok
  }

  override setTickPeriod (ms: number): WasmResult {
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
    this.tickMs = ms
    if (ms > 0 && !this.deleted) this.arm()
    return WasmResult.Ok
  }

  private arm (): void {
    // Timers never keep the process alive.
    this.timer = setTimeout(this.fire, this.tickMs).unref()
  }

  private readonly fire = (): void => {
    this.timer = undefined
    if (this.deleted || this.vm.wasm.failed) return
    this.vm.callTick(this)
    // A tick that set a new period has armed the timer already.
    if (this.timer === undefined && this.tickMs > 0 && !this.deleted && !this.vm.wasm.failed) this.arm()
  }

  private get deleted (): boolean {
    return this.phase === RootPhase.Deleted
  }

  stopTimer (): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
    this.tickMs = 0
  }

  /** on_done returned false: wait for proxy_done (or the grace period). */
  waitForDone (graceMs: number): Promise<void> {
    return new Promise(resolve => {
      const t = setTimeout(finish, graceMs).unref()
      const self = this
      function finish () {
        clearTimeout(t)
        self.pendingDone = undefined
        resolve()
      }
      this.pendingDone = finish
    })
  }

  override done (): WasmResult {
    const finish = this.pendingDone
    if (finish === undefined) return WasmResult.NotFound
    // on_delete follows once the current call has returned.
    this.vm.afterCall(finish)
    return WasmResult.Ok
  }
}

function pluginProperty (plugin: PluginInfo, path: string[]): PropertyValue | undefined {
  if (path.length !== 1) return undefined
  switch (path[0]) {
    case 'plugin_name': return plugin.name
    case 'plugin_root_id': return plugin.rootId
    case 'plugin_vm_id': return plugin.vmId
    default: return undefined
  }
}

/** One filter's context for one request. */
export class StreamContext extends BaseContext {
  created = false
  private sink: LogSink | undefined

  constructor (vm: ProxyVm, id: number, readonly root: RootContext, readonly stream: HttpStream, readonly index: number) {
    super(vm, id)
  }

  get log (): LogSink {
    this.sink ??= this.stream.makeSink(this.root.plugin.name, this.id)
    return this.sink
  }

  override headerMap (type: MapType): HeaderMap | undefined {
    // A callout's answer is the root's; a filter that switched here still reads it.
    if (type === MapType.HttpCallResponseHeaders || type === MapType.HttpCallResponseTrailers) return this.root.headerMap(type)
    if (type === MapType.GrpcInitialMetadata || type === MapType.GrpcTrailingMetadata) return this.root.headerMap(type)
    return this.stream.headerMap(type)
  }

  override headerMapWritable (type: MapType): boolean {
    return this.stream.headerMapWritable(type)
  }

  override buffer (type: BufferType): HostBuffer | undefined {
    if (type === BufferType.HttpCallResponseBody) return this.root.buffer(type)
    if (type === BufferType.GrpcReceiveBuffer) return this.root.buffer(type)
    return this.stream.buffer(type, this) ?? super.buffer(type)
  }

  override property (path: string[]): PropertyValue | undefined {
    if (path.length === 1) {
      const own = pluginProperty(this.root.plugin, path)
      if (own !== undefined) return own
    }
    const attr = attributePath(path)
    if (isWellKnown(attr)) return streamAttribute(attr, this.stream)
    return this.stream.props.get(propertyKey(path))
  }

  override setProperty (path: string[], _key: string, value: Buffer): WasmResult {
    if (pluginProperty(this.root.plugin, path) !== undefined) return WasmResult.BadArgument
    const attr = attributePath(path)
    if (isWellKnown(attr)) return setStreamAttribute(attr, value, this.stream)
    // Filter state is per request and shared by the filters of the chain.
    this.stream.props.set(propertyKey(path), value)
    return WasmResult.Ok
  }

  override continueStream (type: StreamType): WasmResult {
    return this.stream.continueFrom(this, type)
  }

  override closeStream (type: StreamType): WasmResult {
    return this.stream.closeFrom(this, type)
  }

  override sendLocalResponse (response: LocalResponse): WasmResult {
    return this.stream.localResponseFrom(this, response)
  }

  override setTickPeriod (ms: number): WasmResult {
    return this.root.setTickPeriod(ms)
  }
}
