import type { AbiVersion, BufferType, LogLevel, MapType, MetricType, StreamType } from '../abi/enums'
import type { HeaderMap } from '../abi/header-map'
import type { PropertyValue } from '../abi/property'
import type { WasmResult } from '../abi/status'
import type { GuestMemory } from '../vm/memory'
import type { WasmVm } from '../vm/vm'

/** A byte buffer a filter can read (and sometimes write) by type. */
export interface HostBuffer {
  readonly length: number
  /** Bytes [start, start+len), already clamped by the caller. */
  read (start: number, len: number): Uint8Array
  /** Replace `len` bytes at `start` with `data`; undefined when read-only. */
  write?: (start: number, len: number, data: Uint8Array) => WasmResult
}

export interface LocalResponse {
  status: number
  body: Buffer
  /** Flat [name, value, ...], names lower-cased. */
  headers: string[]
  details: string
  grpcStatus: number | undefined
}

/** A proxy_http_call, validated by the host function. */
export interface HttpCallRequest {
  cluster: string
  method: string
  path: string
  authority: string
  /** Flat [name, value, ...] without pseudo-headers, names lower-cased. */
  headers: string[]
  body: Buffer
  /** Flat [name, value, ...]; empty when the filter gave none. */
  trailers: string[]
  /** 0: the cluster's default timeout (none if it has none). */
  timeoutMs: number
}

/** A proxy_grpc_call or proxy_grpc_stream, validated by the host function. */
export interface GrpcCallRequest {
  cluster: string
  service: string
  method: string
  /** Initial metadata, flat [name, value, ...], names lower-cased, no pseudo-headers. */
  metadata: string[]
  /** The request message of a unary call (none for a stream). */
  message?: Buffer
  /** Unary calls: 0 = the cluster's default timeout (none if it has none). */
  timeoutMs: number
}

/** A log sink with a level; the Fastify layer backs it with pino. */
export interface LogSink {
  /** Whether a message at this Proxy-Wasm level would be written. */
  enabled (level: LogLevel): boolean
  write (level: LogLevel, message: string): void
  /** The sink's level as a Proxy-Wasm level (6 = off). */
  level (): number
}

/**
 * What host functions need from a context (VM, root or stream). Each
 * method answers for the current phase; the context decides what is
 * available or writable now.
 */
export interface HostContext {
  readonly id: number
  readonly log: LogSink
  headerMap (type: MapType): HeaderMap | undefined
  headerMapWritable (type: MapType): boolean
  /** Pseudo-headers a map of this type may carry. */
  pseudoHeaders (type: MapType): readonly string[]
  buffer (type: BufferType): HostBuffer | undefined
  property (path: string[]): PropertyValue | undefined
  setProperty (path: string[], key: string, value: Buffer): WasmResult
  continueStream (type: StreamType): WasmResult
  closeStream (type: StreamType): WasmResult
  sendLocalResponse (response: LocalResponse): WasmResult
  setTickPeriod (ms: number): WasmResult
  done (): WasmResult
}

/** A VM's metrics, by id (proxy_define_metric and friends). */
export interface HostMetrics {
  define (type: MetricType, name: string): { status: WasmResult, id: number }
  increment (id: number, offset: bigint): WasmResult
  record (id: number, value: bigint): WasmResult
  get (id: number): { status: WasmResult, value: bigint }
}

/** The VM as host functions see it. */
export interface HostVm {
  readonly wasm: WasmVm
  readonly mem: GuestMemory
  readonly abi: AbiVersion
  /** The effective context if one is set, else the current one. */
  ctx (): HostContext
  /** The context whose callback is running. */
  current (): HostContext
  setEffectiveContext (id: number): boolean
  /** WASI environment, `KEY=VALUE` strings. */
  readonly environ: readonly string[]
  /** What `proxy_get_status` reports: the last callout's outcome. */
  callStatus (): { code: number, message: string }
  /** Starts an HTTP callout for the root of the current context. */
  httpCall (request: HttpCallRequest): { status: WasmResult, token: number }
  /** Metrics of the filter whose context is current (or effective). */
  readonly metrics: HostMetrics
  /** Starts a unary gRPC call (`stream` false) or opens a gRPC stream for the root of the current context. */
  grpcCall (request: GrpcCallRequest, stream: boolean): { status: WasmResult, token: number }
  /** Sends a message on a gRPC stream of the current context's root. */
  grpcSend (token: number, message: Buffer, endStream: boolean): WasmResult
  /** proxy_grpc_cancel (`cancel` true) or proxy_grpc_close. */
  grpcEnd (token: number, cancel: boolean): WasmResult
}
