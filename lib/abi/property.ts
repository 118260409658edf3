/**
 * Property paths and values. A path is NUL-separated segments
 * (`request\0headers\0x-foo`); a trailing NUL is tolerated (the C++ SDK adds
 * one). Values follow Envoy's encoding: strings as raw bytes, integers as
 * 8-byte little-endian, booleans as one byte.
 */

export type PropertyValue = string | Uint8Array | bigint | boolean

/** Splits a path. Dotted single-segment paths (`request.path`) are accepted too. */
export function splitPropertyPath (raw: string): string[] {
  let path = raw
  if (path.length > 0 && path.charCodeAt(path.length - 1) === 0) path = path.slice(0, -1)
  if (path.includes('\0')) return path.split('\0')
  return [path]
}

/** Dotted form for lookups of well-known attributes written as `request.path`. */
export function splitDotted (segment: string): string[] {
  const dot = segment.indexOf('.')
  if (dot < 0) return [segment]
  const head = segment.slice(0, dot)
  const rest = segment.slice(dot + 1)
  // `request.headers.x-foo.bar`: everything after the map name is the key.
  const dot2 = rest.indexOf('.')
  if (dot2 >= 0 && (rest.startsWith('headers.') || rest.startsWith('trailers.'))) {
    return [head, rest.slice(0, dot2), rest.slice(dot2 + 1)]
  }
  return [head, ...rest.split('.')]
}

/** Encodes a value as the bytes a filter receives. */
export function encodePropertyValue (value: PropertyValue): Buffer {
  if (typeof value === 'string') return Buffer.from(value, 'latin1')
  if (typeof value === 'bigint') {
    const b = Buffer.allocUnsafe(8)
    b.writeBigInt64LE(value)
    return b
  }
  if (typeof value === 'boolean') return Buffer.from([value ? 1 : 0])
  return Buffer.from(value.buffer, value.byteOffset, value.byteLength)
}
