import { encodePairs } from '../abi/pairs'
import type { HeaderMap } from '../abi/header-map'
import type { PropertyValue } from '../abi/property'
import { WasmResult } from '../abi/status'
import type { StreamInfo } from './stream-info'
import { realtimeNs } from '../host/time'

/** What attribute lookups read from a stream. */
export interface AttributeSource {
  requestHeaders (): HeaderMap
  responseHeaders (): HeaderMap | undefined
  readonly info: StreamInfo
  readonly responseDetails: string | undefined
  requestHeadersWritable (): boolean
  responseHeadersWritable (): boolean
}

/** Envoy's map value: one pair per header name, repeated values comma-joined, pseudo-headers left out. */
function withoutPseudo (map: HeaderMap): Buffer {
  const joined = new Map<string, string>()
  for (let i = 0; i < map.flat.length; i += 2) {
    const name = map.flat[i]
    if (name.charCodeAt(0) === 58) continue
    const prev = joined.get(name)
    joined.set(name, prev === undefined ? map.flat[i + 1] : prev + ',' + map.flat[i + 1])
  }
  const flat: string[] = []
  for (const [name, value] of joined) flat.push(name, value)
  return encodePairs(flat)
}

function int (n: number | undefined): bigint | undefined {
  return n === undefined ? undefined : BigInt(n)
}

function headersBytes (map: HeaderMap): number {
  return map.byteSize() + map.size * 4
}

/** Envoy's request/response/connection attributes. undefined = NotFound. */
export function streamAttribute (path: string[], s: AttributeSource): PropertyValue | undefined {
  const [ns, field, key] = path
  const info = s.info
  // Only maps have a third segment (a key); a scalar has no fields.
  if (path.length > (field === 'headers' ? 3 : 2)) return undefined
  switch (ns) {
    case 'request': {
      const req = s.requestHeaders()
      const p = req.get(':path') ?? ''
      const q = p.indexOf('?')
      switch (field) {
        case 'path': return p
        case 'url_path': return q < 0 ? p : p.slice(0, q)
        case 'query': return q < 0 ? '' : p.slice(q + 1)
        case 'host': return req.get(':authority')
        case 'scheme': return req.get(':scheme')
        case 'method': return req.get(':method')
        case 'headers':
          if (path.length === 2) return withoutPseudo(req)
          return path.length === 3 ? req.getJoined(key) : undefined
        case 'referer': return req.get('referer')
        case 'useragent': return req.get('user-agent')
        case 'id': return req.get('x-request-id') ?? info.requestId
        case 'time': return info.startTimeNs
        case 'duration': return realtimeNs() - info.startTimeNs
        case 'protocol': return info.protocol
        case 'size': {
          const cl = req.get('content-length')
          return BigInt(cl !== undefined && /^\d+$/.test(cl) ? Number(cl) : info.requestBodySize)
        }
        case 'total_size': return BigInt(headersBytes(req) + info.requestBodySize)
        default: return undefined
      }
    }
    case 'response': {
      const res = s.responseHeaders()
      if (field === 'code_details') return s.responseDetails
      if (res === undefined) return undefined
      switch (field) {
        case 'code': {
          const status = res.get(':status')
          return status === undefined ? undefined : BigInt(status)
        }
        case 'headers':
          if (path.length === 2) return withoutPseudo(res)
          return path.length === 3 ? res.getJoined(key) : undefined
        case 'grpc_status': {
          const g = res.get('grpc-status')
          return g === undefined ? undefined : BigInt(g)
        }
        case 'flags': return 0n
        case 'size': return BigInt(info.responseBodySize)
        case 'total_size': return BigInt(headersBytes(res) + info.responseBodySize)
        default: return undefined
      }
    }
    case 'source':
      if (field === 'address') return joinAddress(info.sourceAddress, info.sourcePort)
      if (field === 'port') return int(info.sourcePort)
      return undefined
    case 'destination':
      if (field === 'address') return joinAddress(info.destinationAddress, info.destinationPort)
      if (field === 'port') return int(info.destinationPort)
      return undefined
    case 'connection':
      switch (field) {
        case 'id': return int(info.connectionId)
        case 'mtls': return info.mtls
        case 'tls_version': return info.tlsVersion
        case 'requested_server_name': return info.sni ?? ''
        default: return undefined
      }
    case 'connection_id':
      return path.length === 1 ? int(info.connectionId) : undefined
    default:
      return undefined
  }
}

function joinAddress (address: string | undefined, port: number | undefined): string | undefined {
  if (address === undefined) return undefined
  const host = address.includes(':') ? `[${address}]` : address
  return port === undefined ? host : `${host}:${port}`
}

const KNOWN_NAMESPACES = new Set(['request', 'response', 'source', 'destination', 'connection', 'upstream', 'connection_id'])

/** Whether a path names a well-known attribute (as opposed to a filter's own property). */
export function isWellKnown (path: string[]): boolean {
  return KNOWN_NAMESPACES.has(path[0])
}

/**
 * Writes to the request and response attributes ATS lets filters set: they
 * become header-map edits, allowed while those headers are still writable.
 */
export function setStreamAttribute (path: string[], value: Buffer, s: AttributeSource): WasmResult {
  const [ns, field, key] = path
  if (path.length > (field === 'headers' ? 3 : 2)) return WasmResult.BadArgument
  const text = value.toString('latin1')
  if (ns === 'request') {
    if (!s.requestHeadersWritable()) return WasmResult.BadArgument
    const req = s.requestHeaders()
    const p = req.get(':path') ?? '/'
    const q = p.indexOf('?')
    const query = q < 0 ? '' : p.slice(q)
    switch (field) {
      case 'method': return setPseudo(req, ':method', text, /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/)
      case 'path': return setPseudo(req, ':path', text, PATH)
      case 'url_path': return setPseudo(req, ':path', text + query, PATH)
      case 'query': return setPseudo(req, ':path', (q < 0 ? p : p.slice(0, q)) + (text === '' ? '' : '?' + text), PATH)
      case 'host': return setPseudo(req, ':authority', text, NO_SPACE)
      case 'scheme': return setPseudo(req, ':scheme', text, /^https?$/)
      case 'headers': return path.length === 3 ? setHeader(req, key, text) : WasmResult.BadArgument
      default: return WasmResult.BadArgument
    }
  }
  if (ns === 'response') {
    const res = s.responseHeaders()
    if (res === undefined || !s.responseHeadersWritable()) return WasmResult.BadArgument
    if (field === 'code') {
      const code = value.length === 8 ? Number(value.readBigInt64LE()) : Number(text)
      if (!Number.isInteger(code) || code < 200 || code > 599) return WasmResult.BadArgument
      res.replace(':status', String(code))
      return WasmResult.Ok
    }
    if (field === 'headers' && path.length === 3) return setHeader(res, key, text)
    return WasmResult.BadArgument
  }
  return WasmResult.BadArgument
}

// eslint-disable-next-line no-control-regex
const NO_SPACE = /^[^\x00-\x20\x7f]+$/
// eslint-disable-next-line no-control-regex
const PATH = /^\/[^\x00-\x20\x7f]*$/
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/
// eslint-disable-next-line no-control-regex
const BAD_VALUE = /[\x00-\x08\x0a-\x1f\x7f]/

function setPseudo (map: HeaderMap, name: string, value: string, valid: RegExp): WasmResult {
  if (!valid.test(value)) return WasmResult.BadArgument
  map.replace(name, value)
  return WasmResult.Ok
}

function setHeader (map: HeaderMap, name: string, value: string): WasmResult {
  const key = name.toLowerCase()
  if (!TOKEN.test(key) || BAD_VALUE.test(value)) return WasmResult.BadArgument
  if (value === '') map.remove(key)
  else map.replace(key, value)
  return WasmResult.Ok
}
