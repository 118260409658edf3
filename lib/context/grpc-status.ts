import { constants } from 'node:http2'
import { GrpcStatus } from '../abi/enums'

/** A gRPC outcome: the status code and its message. */
export interface GrpcOutcome {
  status: number
  message: string
}

// https://github.com/grpc/grpc/blob/master/doc/http-grpc-status-mapping.md
const FROM_HTTP: Record<number, GrpcStatus> = {
  400: GrpcStatus.Internal,
  401: GrpcStatus.Unauthenticated,
  403: GrpcStatus.PermissionDenied,
  404: GrpcStatus.Unimplemented,
  429: GrpcStatus.Unavailable,
  502: GrpcStatus.Unavailable,
  503: GrpcStatus.Unavailable,
  504: GrpcStatus.Unavailable
}

/** The status of an HTTP answer that is not gRPC (a proxy's error page, say). */
export function statusFromHttp (code: number): GrpcStatus {
  return FROM_HTTP[code] ?? GrpcStatus.Unknown
}

// The same document's HTTP/2 RST_STREAM mapping; anything else is Internal.
const FROM_RST: Record<number, GrpcStatus> = {
  [constants.NGHTTP2_REFUSED_STREAM]: GrpcStatus.Unavailable,
  [constants.NGHTTP2_CANCEL]: GrpcStatus.Canceled,
  [constants.NGHTTP2_ENHANCE_YOUR_CALM]: GrpcStatus.ResourceExhausted,
  [constants.NGHTTP2_INADEQUATE_SECURITY]: GrpcStatus.PermissionDenied
}

/** The status of a stream the peer reset with `code`. */
export function statusFromReset (code: number): GrpcStatus {
  return FROM_RST[code] ?? GrpcStatus.Internal
}

/** grpc-status as sent: a decimal 0..16; anything else is Unknown. */
export function parseGrpcStatus (value: string | undefined): GrpcStatus {
  if (value === undefined || !/^\d{1,2}$/.test(value)) return GrpcStatus.Unknown
  const n = Number(value)
  return n <= GrpcStatus.Unauthenticated ? n : GrpcStatus.Unknown
}

/** grpc-message is percent-encoded UTF-8; malformed escapes stay as they are. */
export function decodeGrpcMessage (value: string | undefined): string {
  if (value === undefined || value === '') return ''
  if (!value.includes('%')) return value
  const bytes: number[] = []
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i)
    if (c === 37 && /^[0-9A-Fa-f]{2}$/.test(value.slice(i + 1, i + 3))) {
      bytes.push(parseInt(value.slice(i + 1, i + 3), 16))
      i += 2
    } else {
      bytes.push(c & 0xff)
    }
  }
  return Buffer.from(bytes).toString('utf8')
}

/** grpc-timeout for a deadline in milliseconds: at most 8 digits, so long ones go in seconds. */
export function grpcTimeout (ms: number): string {
  return ms < 1e8 ? `${ms}m` : `${Math.ceil(ms / 1000)}S`
}
