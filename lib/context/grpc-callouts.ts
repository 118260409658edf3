import { constants, type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2'
import { GrpcStatus, LogLevel } from '../abi/enums'
import { HeaderMap } from '../abi/header-map'
import { WasmResult } from '../abi/status'
import type { GrpcCallRequest, LogSink } from '../host/types'
import type { WasmFunction } from '../vm/vm'
import { ReadOnlyBuffer } from './buffers'
import type { BaseContext, RootContext } from './contexts'
import type { GrpcChannels } from './grpc-channels'
import { Deframer, FrameError, frame } from './grpc-frames'
import { decodeGrpcMessage, type GrpcOutcome, grpcTimeout, parseGrpcStatus, statusFromHttp, statusFromReset } from './grpc-status'
import type { ProxyVm } from './proxy-vm'

/** What the running gRPC callback lets the filter read: map 4, map 5 or buffer 5. */
export interface GrpcDelivery {
  initialMetadata?: HeaderMap
  trailingMetadata?: HeaderMap
  message?: ReadOnlyBuffer
}

/** A finished callout, for whoever counts them (the metrics registry, when present). */
export interface GrpcFinished {
  cluster: string
  kind: 'call' | 'stream'
  status: number
}

interface Callout {
  readonly token: number
  readonly kind: 'call' | 'stream'
  /** The root context that owns the callout and receives its events. */
  readonly root: RootContext
  /** The context the filter called from (a stream, or the root itself). */
  readonly origin: BaseContext
  readonly cluster: string
  readonly path: string
  readonly deframer: Deframer
  stream: ClientHttp2Stream | undefined
  timer: NodeJS.Timeout | undefined
  /** A unary call's response messages, delivered once the status is known. */
  readonly messages: Buffer[]
  /** The filter half-closed the stream (or a unary call sent its message). */
  localClosed: boolean
  /** The origin stream has ended: the callout goes on, nothing is delivered. */
  orphaned: boolean
  /** Finished, cancelled or dropped: later events are ignored. */
  done: boolean
  /** The last error the HTTP/2 stream reported, for the close that follows. */
  error: Error | undefined
}

// Envoy's callout ids: the low two bits are the kind (1 gRPC call, 2 gRPC stream).
const TOKEN_STEP = 4
const CALL = 1
const STREAM = 2
// Headers the host writes itself, and connection headers HTTP/2 forbids.
const MANAGED = new Set(['content-type', 'te', 'grpc-timeout', 'content-length', 'host', 'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade'])
const MAX_TIMER = 0x7fffffff
const UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN'])

function warn (log: LogSink, message: string): void {
  if (log.enabled(LogLevel.Warn)) log.write(LogLevel.Warn, message)
}

function debug (log: LogSink, message: string): void {
  if (log.enabled(LogLevel.Debug)) log.write(LogLevel.Debug, message)
}

/** A response's raw [name, value, ...] as a map; Node's header object when no raw list is given. */
function mapOf (raw: string[] | undefined, headers: IncomingHttpHeaders): HeaderMap {
  if (Array.isArray(raw)) return new HeaderMap(raw.map((v, i) => i % 2 === 0 ? v.toLowerCase() : v))
  const flat: string[] = []
  for (const [name, value] of Object.entries(headers)) {
    if (Array.isArray(value)) for (const v of value) flat.push(name, v)
    else if (value !== undefined) flat.push(name, String(value))
  }
  return new HeaderMap(flat)
}

/** An error's code, or its cause's (Node cancels pending streams with the connect error as cause). */
function codeOf (err: Error | undefined): { code: string, message: string } {
  const cause = err?.cause as { code?: unknown, message?: unknown } | undefined
  const own = (err as { code?: unknown } | undefined)?.code
  if (typeof cause?.code === 'string') return { code: cause.code, message: String(cause.message) }
  return { code: typeof own === 'string' ? own : '', message: err?.message ?? '' }
}

/** Why a stream failed, when it was not the peer's gRPC status. */
function transportOutcome (c: Callout, s: ClientHttp2Stream, session: ClientHttp2Session | undefined): GrpcOutcome {
  const { code, message } = codeOf(c.error)
  if (code === 'ECONNREFUSED') return { status: GrpcStatus.Unavailable, message: 'connection refused' }
  if (code.startsWith('ERR_TLS') || code.includes('CERT') || code.startsWith('ERR_SSL')) return { status: GrpcStatus.Unavailable, message: `tls handshake failure: ${message}` }
  if (UNAVAILABLE_CODES.has(code) || code.startsWith('ERR_HTTP2_SESSION') || code === 'ERR_HTTP2_GOAWAY_SESSION' || code === 'ERR_HTTP2_STREAM_CANCEL') {
    return { status: GrpcStatus.Unavailable, message: `unavailable: ${message}` }
  }
  // Node closes the streams of a lost connection with CANCEL: that is no reset by the peer.
  const lost = session === undefined || session.destroyed || session.closed
  const rstCode = s.rstCode
  if (!lost && rstCode !== undefined && rstCode !== constants.NGHTTP2_NO_ERROR) {
    return { status: statusFromReset(rstCode), message: `stream reset by the peer (HTTP/2 error ${rstCode})` }
  }
  if (!lost) return { status: GrpcStatus.Internal, message: message !== '' ? message : 'the stream ended without a gRPC status' }
  return { status: GrpcStatus.Unavailable, message: message !== '' ? message : 'the connection closed before the call finished' }
}

/**
 * A VM's gRPC callouts: unary calls and streams to named clusters, tokens
 * unique among its outstanding callouts, and delivery of their events to
 * the owning root context. Nothing is delivered to a failed VM, a deleted
 * root, or for an origin stream that has ended; app.close() cancels all.
 */
export class GrpcCallouts {
  private readonly callouts = new Map<number, Callout>()
  private readonly nextToken = [0, TOKEN_STEP + CALL, TOKEN_STEP + STREAM]
  /** Told of every callout that finishes (not of those cancelled or dropped). */
  onFinished: ((finished: GrpcFinished) => void) | undefined

  constructor (
    private readonly vm: ProxyVm,
    private readonly channels: GrpcChannels | undefined,
    private readonly maxMessageBytes: number
  ) {}

  dispatch (root: RootContext, origin: BaseContext, request: GrpcCallRequest, stream: boolean): { status: WasmResult, token: number } {
    const name = stream ? 'proxy_grpc_stream' : 'proxy_grpc_call'
    const channels = this.channels
    if (channels === undefined || !channels.has(request.cluster)) {
      const known = channels === undefined || channels.names.length === 0
        ? 'no clusters are configured (options.clusters)'
        : `configured clusters: ${channels.names.join(', ')}`
      // Envoy also accepts a serialized GrpcService here; this host takes cluster names only.
      warn(origin.log, `${name}: filter ${root.plugin.name} asked for unknown cluster ${JSON.stringify(request.cluster)}; ${known}`)
      return { status: WasmResult.ParseFailure, token: 0 }
    }
    const kind = stream ? 'stream' : 'call'
    const c: Callout = {
      token: this.allocToken(stream ? STREAM : CALL),
      kind,
      root,
      origin,
      cluster: request.cluster,
      path: `/${request.service}/${request.method}`,
      deframer: new Deframer(this.maxMessageBytes),
      stream: undefined,
      timer: undefined,
      messages: [],
      localClosed: false,
      orphaned: false,
      done: false,
      error: undefined
    }
    this.callouts.set(c.token, c)
    const headers: OutgoingHttpHeaders = {
      ':method': 'POST',
      ':path': c.path,
      'content-type': 'application/grpc',
      te: 'trailers'
    }
    const timeoutMs = stream ? 0 : Math.min(channels.timeoutFor(request.cluster, request.timeoutMs), MAX_TIMER)
    if (timeoutMs > 0) headers['grpc-timeout'] = grpcTimeout(timeoutMs)
    const skipped = this.addMetadata(headers, request.metadata)
    if (skipped.length > 0) warn(origin.log, `${name} to cluster ${JSON.stringify(c.cluster)}: metadata the host sets itself is not sent: ${skipped.join(', ')}`)
    debug(origin.log, `${name} to cluster ${JSON.stringify(c.cluster)}: ${c.path} (token ${c.token})`)
    try {
      c.stream = channels.request(c.cluster, headers)
    } catch (err) {
      c.error = err as Error
      // Events are never delivered from inside the host function.
      setImmediate(() => this.fail(c, { status: GrpcStatus.Unavailable, message: `unavailable: ${(err as Error).message}` }))
      return { status: WasmResult.Ok, token: c.token }
    }
    this.watch(c, c.stream)
    if (!stream) {
      c.localClosed = true
      c.stream.end(frame(request.message ?? Buffer.alloc(0)))
    }
    if (timeoutMs > 0) {
      c.timer = setTimeout(() => this.fail(c, { status: GrpcStatus.DeadlineExceeded, message: 'deadline exceeded' }), timeoutMs).unref()
    }
    return { status: WasmResult.Ok, token: c.token }
  }

  private addMetadata (headers: OutgoingHttpHeaders, metadata: string[]): string[] {
    const skipped: string[] = []
    for (let i = 0; i < metadata.length; i += 2) {
      const name = metadata[i]
      const value = metadata[i + 1]
      if (MANAGED.has(name)) {
        skipped.push(name)
        continue
      }
      const prev = headers[name]
      if (prev === undefined) headers[name] = value
      else headers[name] = Array.isArray(prev) ? [...prev, value] : [String(prev), value]
    }
    return skipped
  }

  private allocToken (kind: number): number {
    let token = this.nextToken[kind]
    // Skip tokens still outstanding (after wrap-around); the low bits never change.
    while (this.callouts.has(token)) token = (token + TOKEN_STEP) >>> 0
    this.nextToken[kind] = (token + TOKEN_STEP) >>> 0
    return token
  }

  /** The callout `token` names, if it belongs to `root`. */
  private find (root: RootContext, token: number): Callout | undefined {
    const c = this.callouts.get(token)
    return c !== undefined && c.root === root ? c : undefined
  }

  send (root: RootContext, token: number, message: Buffer, endStream: boolean): WasmResult {
    if ((token & 3) !== STREAM) return WasmResult.BadArgument
    const c = this.find(root, token)
    if (c === undefined) return WasmResult.NotFound
    // Nothing may follow a half-close.
    if (c.localClosed) return WasmResult.BadArgument
    const s = c.stream
    if (endStream) c.localClosed = true
    if (s === undefined || s.destroyed) return WasmResult.Ok
    if (endStream) s.end(frame(message))
    else s.write(frame(message))
    return WasmResult.Ok
  }

  /** proxy_grpc_cancel: reset, nothing more is delivered. proxy_grpc_close: a call is cancelled, a stream half-closed. */
  end (root: RootContext, token: number, cancel: boolean): WasmResult {
    const kind = token & 3
    if (kind !== CALL && kind !== STREAM) return WasmResult.BadArgument
    const c = this.find(root, token)
    if (c === undefined) return WasmResult.NotFound
    if (cancel || kind === CALL) {
      debug(c.origin.log, `gRPC ${c.kind} ${c.path} (token ${c.token}) cancelled by the filter`)
      this.drop(c)
      return WasmResult.Ok
    }
    if (!c.localClosed) {
      c.localClosed = true
      if (c.stream !== undefined && !c.stream.destroyed) c.stream.end()
    }
    return WasmResult.Ok
  }

  private watch (c: Callout, s: ClientHttp2Stream): void {
    // A closed stream forgets its session; what became of the connection is asked at the end.
    const session = s.session as ClientHttp2Session | undefined
    s.on('response', (headers, flags, raw?: string[]) => {
      if (c.done) return
      const map = mapOf(raw, headers)
      const trailersOnly = (flags & constants.NGHTTP2_FLAG_END_STREAM) !== 0
      const status = Number(headers[':status'])
      // Envoy: initial metadata first (empty for a trailers-only answer), then the verdict.
      if (c.kind === 'stream' && !this.deliverMap(c, 'initial', trailersOnly ? new HeaderMap() : map)) return
      // A grpc-status in a trailers-only answer wins over the HTTP status (gRPC's mapping document).
      if (trailersOnly && headers['grpc-status'] !== undefined) {
        this.trailers(c, map)
        return
      }
      if (status !== 200) {
        this.fail(c, { status: statusFromHttp(status), message: `not a gRPC response: HTTP status ${status}` })
        return
      }
      const type = String(headers['content-type'] ?? '')
      if (!type.startsWith('application/grpc')) {
        this.fail(c, { status: GrpcStatus.Unknown, message: `not a gRPC response: content-type ${JSON.stringify(type)}` })
        return
      }
      if (trailersOnly) this.trailers(c, map)
    })
    s.on('data', (chunk: Buffer) => {
      if (c.done) return
      let messages: Buffer[]
      try {
        messages = c.deframer.push(chunk)
      } catch (err) {
        const tooLarge = err instanceof FrameError && err.tooLarge
        this.fail(c, { status: tooLarge ? GrpcStatus.ResourceExhausted : GrpcStatus.Internal, message: `the response holds ${(err as Error).message}` })
        return
      }
      if (c.kind === 'call') {
        c.messages.push(...messages)
        return
      }
      for (const m of messages) if (!this.deliverMessage(c, m)) return
    })
    s.on('trailers', (headers, _flags, raw?: string[]) => {
      if (!c.done) this.trailers(c, mapOf(raw, headers))
    })
    s.on('error', err => { c.error = err })
    s.on('close', () => {
      if (!c.done) this.fail(c, transportOutcome(c, s, session))
    })
  }

  /** The peer's trailing metadata: its status ends the callout. */
  private trailers (c: Callout, map: HeaderMap): void {
    const outcome = { status: parseGrpcStatus(map.get('grpc-status')), message: decodeGrpcMessage(map.get('grpc-message')) }
    if (outcome.status === GrpcStatus.Ok && c.deframer.pending > 0) {
      this.fail(c, { status: GrpcStatus.Internal, message: 'the response ended inside a message' })
      return
    }
    if (c.kind === 'stream') {
      if (!this.deliverMap(c, 'trailing', map)) return
      this.finish(c, outcome)
      return
    }
    if (outcome.status === GrpcStatus.Ok && c.messages.length !== 1) {
      // A unary call answers exactly one message (Envoy: none is Internal).
      this.fail(c, { status: GrpcStatus.Internal, message: c.messages.length === 0 ? 'the response has no message' : `the response has ${c.messages.length} messages` })
      return
    }
    if (outcome.status !== GrpcStatus.Ok) {
      this.finish(c, outcome)
      return
    }
    this.settle(c, outcome)
    // Envoy: a successful call gets proxy_on_grpc_receive and no close.
    if (this.deliverable(c)) {
      c.root.calloutStatus = { code: GrpcStatus.Ok, message: '' }
      this.invoke(c, 'proxy_on_grpc_receive', this.vm.cb.grpcReceive, c.messages[0].length, { message: new ReadOnlyBuffer(c.messages[0]) })
    }
  }

  /** A failure the host saw (deadline, transport, not gRPC): logged, the stream reset, then closed with `outcome`. */
  private fail (c: Callout, outcome: GrpcOutcome): void {
    if (c.done) return
    if (!c.orphaned) warn(c.origin.log, `gRPC ${c.kind} ${c.path} to cluster ${JSON.stringify(c.cluster)} failed (token ${c.token}): status ${outcome.status}, ${outcome.message}`)
    this.finish(c, outcome, true)
  }

  /** Ends a callout with `outcome`, delivered through proxy_on_grpc_close. */
  private finish (c: Callout, outcome: GrpcOutcome, reset = false): void {
    if (c.done) return
    this.settle(c, outcome, reset)
    if (!this.deliverable(c)) return
    c.root.calloutStatus = { code: outcome.status, message: outcome.message }
    this.invoke(c, 'proxy_on_grpc_close', this.vm.cb.grpcClose, outcome.status, undefined)
  }

  /** The callout is over: its token is free, its HTTP/2 stream closed. */
  private settle (c: Callout, outcome: GrpcOutcome, reset = false): void {
    this.release(c, reset)
    debug(c.root.log, `gRPC ${c.kind} ${c.path} (token ${c.token}) finished with status ${outcome.status}`)
    this.vm.registry.countGrpcCall(c.root.plugin.name, outcome.status !== 0)
    this.onFinished?.({ cluster: c.cluster, kind: c.kind, status: outcome.status })
  }

  private release (c: Callout, reset: boolean): void {
    c.done = true
    if (c.timer !== undefined) clearTimeout(c.timer)
    c.timer = undefined
    if (this.callouts.get(c.token) === c) this.callouts.delete(c.token)
    const s = c.stream
    if (s === undefined || s.closed || s.destroyed) return
    // Cancelled or failed: reset. Finished while the filter had not half-closed: close quietly.
    if (reset) s.close(constants.NGHTTP2_CANCEL)
    else if (!c.localClosed) s.close(constants.NGHTTP2_NO_ERROR)
  }

  /** Whether events may reach the filter now; says once why not when the origin has gone. */
  private deliverable (c: Callout): boolean {
    const { vm } = this
    if (vm.wasm.failed || vm.contexts.get(c.root.id) !== c.root) return false
    if (c.orphaned) {
      debug(c.root.log, `gRPC ${c.kind} ${c.path} (token ${c.token}): events dropped, context ${c.origin.id} that made the call has ended`)
      return false
    }
    return true
  }

  private deliverMap (c: Callout, which: 'initial' | 'trailing', map: HeaderMap): boolean {
    if (!this.deliverable(c)) return !c.done
    const cb = this.vm.cb
    if (which === 'initial') {
      this.invoke(c, 'proxy_on_grpc_receive_initial_metadata', cb.grpcInitialMetadata, map.size, { initialMetadata: map })
    } else {
      const name = cb.grpcTrailingMetadataName ?? 'proxy_on_grpc_receive_trailing_metadata'
      this.invoke(c, name, cb.grpcTrailingMetadata, map.size, { trailingMetadata: map })
    }
    // The callback may have cancelled the stream, or the VM failed.
    return !c.done && !this.vm.wasm.failed
  }

  private deliverMessage (c: Callout, message: Buffer): boolean {
    if (!this.deliverable(c)) return !c.done
    this.invoke(c, 'proxy_on_grpc_receive', this.vm.cb.grpcReceive, message.length, { message: new ReadOnlyBuffer(message) })
    return !c.done && !this.vm.wasm.failed
  }

  private invoke (c: Callout, name: string, fn: WasmFunction | undefined, n: number, delivery: GrpcDelivery | undefined): void {
    if (fn === undefined) return
    const root = c.root
    root.grpcDelivery = delivery
    try {
      this.vm.invoke(root, name, fn, root.id, c.token, n)
    } finally {
      root.grpcDelivery = undefined
    }
  }

  /**
   * A context was deleted. Callouts its root owned are cancelled. Those a
   * stream made go on (the root owns them, as in Envoy) but deliver nothing:
   * the SDK would switch to a context that is gone.
   */
  contextRemoved (ctx: BaseContext): void {
    for (const c of [...this.callouts.values()]) {
      if (c.root === ctx) this.drop(c)
      else if (c.origin === ctx) c.orphaned = true
    }
  }

  /** The VM failed, or the app is closing: cancel everything, deliver nothing. */
  cancelAll (): void {
    for (const c of [...this.callouts.values()]) this.drop(c)
  }

  private drop (c: Callout): void {
    this.release(c, true)
  }
}
