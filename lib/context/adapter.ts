import type { HeaderMap } from '../abi/header-map'
import type { LogSink } from '../host/types'
import type { StreamInfo } from './stream-info'

/** A response the chain produced instead of the route's: a local reply or a failure. */
export interface LocalReply {
  status: number
  /** Flat [name, value, ...], lower-cased names. */
  headers: string[]
  body: Buffer
  /** Envoy's response code details, e.g. the filter's reason or `wasm_fail_stream`. */
  details: string
  grpcStatus?: number
  /** Set when the reply is the fail-closed answer of a failed VM. */
  failure?: { plugin: string, callback: string, message: string }
  /** The filter that sent it (undefined for failures and host limits). */
  plugin?: string
}

/**
 * What the filter chain needs from the server it runs in. The Fastify layer
 * implements it; the chain knows nothing of Fastify.
 */
export interface StreamAdapter {
  readonly info: StreamInfo
  /** Builds the request header map (with pseudo-headers) once. */
  loadRequestHeaders (): HeaderMap
  /** Builds the response header map (with :status) once. */
  loadResponseHeaders (): HeaderMap
  /** A log sink for a filter's stream context. */
  makeSink (filter: string, contextId: number): LogSink
  /** Request phase only: answer with this instead of running the route. */
  sendLocalReply (reply: LocalReply): void
  /** Drop the request without a response (proxy_close_stream). */
  reset (): void
  /** Request body that passed every filter, and its end. */
  requestData (chunks: Buffer[]): void
  requestEnd (trailers: HeaderMap | undefined): void
  /** Response body that passed every filter, and its end. */
  responseData (chunks: Buffer[]): void
  responseEnd (trailers: HeaderMap | undefined): void
}
