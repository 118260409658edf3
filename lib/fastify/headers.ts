import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http'
import { HeaderMap } from '../abi/header-map'

/**
 * Conversions between Node's header objects and Proxy-Wasm header maps.
 * Hop-by-hop headers belong to the connection, not the message: filters
 * do not see them and edits leave them alone.
 */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'http2-settings'])

export function isHopByHop (name: string, connection: string | undefined): boolean {
  if (HOP_BY_HOP.has(name)) return true
  if (connection === undefined) return false
  return connectionTokens(connection).includes(name)
}

// `connection: keep-alive` on nearly every request: parse each distinct value once.
const tokenCache = new Map<string, string[]>()

function connectionTokens (connection: string): string[] {
  let tokens = tokenCache.get(connection)
  if (tokens === undefined) {
    tokens = connection.toLowerCase().split(',').map(t => t.trim()).filter(t => t !== '')
    if (tokenCache.size < 256) tokenCache.set(connection, tokens)
  }
  return tokens
}

/** Request map: the pseudo-headers, then rawHeaders in order, lower-cased. */
export function requestHeaderMap (method: string, url: string, scheme: string, rawHeaders: string[], headers: IncomingHttpHeaders): HeaderMap {
  const authority = (headers[':authority'] as string | undefined) ?? headers.host ?? ''
  const flat = [':authority', authority, ':path', url, ':method', method, ':scheme', scheme]
  const connection = headers.connection
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i].toLowerCase()
    if (name === 'host' || name.charCodeAt(0) === 58 || isHopByHop(name, connection)) continue
    flat.push(name, rawHeaders[i + 1])
  }
  return new HeaderMap(flat)
}

/** Response map: `:status`, then the reply's headers. */
export function responseHeaderMap (status: number, headers: OutgoingHttpHeaders): HeaderMap {
  const flat = [':status', String(status)]
  const connection = typeof headers.connection === 'string' ? headers.connection : undefined
  for (const name of Object.keys(headers)) {
    const value = headers[name]
    if (value === undefined || isHopByHop(name, connection)) continue
    if (Array.isArray(value)) {
      for (const v of value) flat.push(name, String(v))
    } else {
      flat.push(name, String(value))
    }
  }
  return new HeaderMap(flat)
}

/**
 * Node's view of repeated headers: set-cookie stays a list, cookie joins with "; ", others with ", "
 * (what Node does for a request). With `joinRepeated` false every repeated header stays a list, so a
 * response sends each value on its own line, as Envoy does.
 */
export function toNodeHeaders (map: HeaderMap, joinRepeated = true): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {}
  const flat = map.flat
  for (let i = 0; i < flat.length; i += 2) {
    const name = flat[i]
    if (name.charCodeAt(0) === 58) continue
    const value = flat[i + 1]
    const prev = out[name]
    if (prev === undefined) out[name] = name === 'set-cookie' ? [value] : value
    else if (Array.isArray(prev)) prev.push(value)
    else if (!joinRepeated) out[name] = [prev, value]
    else out[name] = prev + (name === 'cookie' ? '; ' : ', ') + value
  }
  return out
}
