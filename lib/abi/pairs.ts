/**
 * The serialized header-map ("pairs") format of the Proxy-Wasm ABI:
 *   u32 N | N × (u32 name_len, u32 value_len) | name\0value\0 ...
 * All integers little-endian. Strings are latin1, one byte per char.
 */

/** Limits of the reference host (proxy-wasm-cpp-host `limits.h`). */
export const PAIRS_MAX_BYTES = 1024 * 1024
export const PAIRS_MAX_COUNT = 1024

/** Bytes needed to serialize a flat [name, value, ...] list. */
export function pairsByteLength (flat: readonly string[]): number {
  let size = 4
  for (let i = 0; i < flat.length; i += 2) {
    size += 10 + flat[i].length + flat[i + 1].length
  }
  return size
}

/** Serializes `flat` into `buf` at `at` (the caller sized it with pairsByteLength). */
export function writePairs (buf: Buffer, at: number, flat: readonly string[]): void {
  const n = flat.length >>> 1
  buf.writeUInt32LE(n, at)
  let sizes = at + 4
  let data = sizes + n * 8
  for (let i = 0; i < flat.length; i += 2) {
    const name = flat[i]
    const value = flat[i + 1]
    buf.writeUInt32LE(name.length, sizes)
    buf.writeUInt32LE(value.length, sizes + 4)
    sizes += 8
    data += buf.write(name, data, 'latin1')
    buf[data++] = 0
    data += buf.write(value, data, 'latin1')
    buf[data++] = 0
  }
}

/** Serializes into a fresh Buffer (for host-side consumers). */
export function encodePairs (flat: readonly string[]): Buffer {
  const buf = Buffer.allocUnsafe(pairsByteLength(flat))
  writePairs(buf, 0, flat)
  return buf
}

/**
 * Parses `len` bytes at `at`. Returns the flat list, or null when the bytes
 * are malformed: over the limits, lengths that overrun, a missing NUL, or
 * bytes left over. Size 0, a lone 0x00 and a zero count all mean empty.
 */
export function parsePairs (buf: Buffer, at: number, len: number): string[] | null {
  if (len === 0 || (len === 1 && buf[at] === 0)) return []
  if (len < 4 || len > PAIRS_MAX_BYTES) return null
  const end = at + len
  const n = buf.readUInt32LE(at)
  if (n > PAIRS_MAX_COUNT) return null
  let sizes = at + 4
  let data = sizes + n * 8
  if (data > end) return null
  const flat: string[] = new Array(n * 2)
  for (let i = 0; i < n; i++) {
    const nameLen = buf.readUInt32LE(sizes)
    const valueLen = buf.readUInt32LE(sizes + 4)
    sizes += 8
    if (data + nameLen + 1 > end) return null
    flat[2 * i] = buf.toString('latin1', data, data + nameLen)
    data += nameLen
    if (buf[data++] !== 0) return null
    if (data + valueLen + 1 > end) return null
    flat[2 * i + 1] = buf.toString('latin1', data, data + valueLen)
    data += valueLen
    if (buf[data++] !== 0) return null
  }
  return data === end ? flat : null
}
