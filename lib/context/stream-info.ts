/**
 * Facts about a request that filters read as properties. The embedder
 * implements this; values are computed when asked.
 */
export interface StreamInfo {
  /** `HTTP/1.0`, `HTTP/1.1` or `HTTP/2`. */
  readonly protocol: string
  /** Time the request arrived, ns since the epoch. */
  readonly startTimeNs: bigint
  readonly requestId: string
  readonly sourceAddress: string | undefined
  readonly sourcePort: number | undefined
  readonly destinationAddress: string | undefined
  readonly destinationPort: number | undefined
  readonly connectionId: number | undefined
  readonly tlsVersion: string | undefined
  readonly sni: string | undefined
  readonly mtls: boolean
  /** Request body bytes received so far. */
  requestBodySize: number
  /** Response body bytes produced so far. */
  responseBodySize: number
}
