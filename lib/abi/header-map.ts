/**
 * An ordered multimap of HTTP header names to values, with Envoy's semantics:
 * names are lower-cased on write and matched case-insensitively, duplicates are
 * kept as separate entries, and pseudo-headers (`:path`, `:status`, ...) are
 * ordinary entries. Names and values are latin1 strings, so every byte a filter
 * writes reaches the wire unchanged (Node decodes header bytes as latin1 too).
 */
export class HeaderMap {
  /** name0, value0, name1, value1, ... */
  flat: string[]
  /** Set by every mutation; the embedder uses it to skip unchanged maps. */
  dirty = false

  constructor (flat: string[] = []) {
    this.flat = flat
  }

  get size (): number {
    return this.flat.length >>> 1
  }

  get (name: string): string | undefined {
    const key = name.toLowerCase()
    const flat = this.flat
    for (let i = 0; i < flat.length; i += 2) {
      if (flat[i] === key) return flat[i + 1]
    }
    return undefined
  }

  /** All values of a header joined with `sep` (Envoy's attribute view). */
  getJoined (name: string, sep = ','): string | undefined {
    const key = name.toLowerCase()
    const flat = this.flat
    let out: string | undefined
    for (let i = 0; i < flat.length; i += 2) {
      if (flat[i] === key) out = out === undefined ? flat[i + 1] : out + sep + flat[i + 1]
    }
    return out
  }

  has (name: string): boolean {
    return this.get(name) !== undefined
  }

  add (name: string, value: string): void {
    this.flat.push(name.toLowerCase(), value)
    this.dirty = true
  }

  /** Sets the first occurrence, drops the others, appends when absent. */
  replace (name: string, value: string): void {
    const key = name.toLowerCase()
    const flat = this.flat
    let found = false
    for (let i = 0; i < flat.length;) {
      if (flat[i] === key) {
        if (!found) {
          flat[i + 1] = value
          found = true
          i += 2
        } else {
          flat.splice(i, 2)
        }
      } else {
        i += 2
      }
    }
    if (!found) flat.push(key, value)
    this.dirty = true
  }

  remove (name: string): void {
    const key = name.toLowerCase()
    const flat = this.flat
    for (let i = 0; i < flat.length;) {
      if (flat[i] === key) flat.splice(i, 2)
      else i += 2
    }
    this.dirty = true
  }

  /** Replaces the whole map (names lower-cased). */
  setAll (flat: string[]): void {
    for (let i = 0; i < flat.length; i += 2) flat[i] = flat[i].toLowerCase()
    this.flat = flat
    this.dirty = true
  }

  /** Sum of name and value bytes: what Envoy answers for the map's size. */
  byteSize (): number {
    let n = 0
    const flat = this.flat
    for (let i = 0; i < flat.length; i++) n += flat[i].length
    return n
  }

  toObject (): Record<string, string | string[]> {
    const out: Record<string, string | string[]> = {}
    const flat = this.flat
    for (let i = 0; i < flat.length; i += 2) {
      const prev = out[flat[i]]
      if (prev === undefined) out[flat[i]] = flat[i + 1]
      else if (Array.isArray(prev)) prev.push(flat[i + 1])
      else out[flat[i]] = [prev, flat[i + 1]]
    }
    return out
  }
}

// RFC 9110 token characters, after lower-casing.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/
// Node rejects these in values: CTLs other than HTAB, and DEL.
// eslint-disable-next-line no-control-regex
const BAD_VALUE = /[\x00-\x08\x0a-\x1f\x7f]/

/**
 * Whether `name` may be written into a header map. Regular names must be
 * tokens; pseudo-headers only the ones the map type carries.
 */
export function isValidHeaderName (name: string, pseudo: readonly string[]): boolean {
  if (name.length === 0) return false
  const key = name.toLowerCase()
  if (key.charCodeAt(0) === 58 /* : */) return pseudo.includes(key)
  return TOKEN.test(key)
}

/** Whether `value` is safe on the wire: no CR, LF, NUL or other control bytes. */
export function isValidHeaderValue (value: string): boolean {
  return !BAD_VALUE.test(value)
}

export const REQUEST_PSEUDO_HEADERS = [':method', ':path', ':authority', ':scheme'] as const
export const RESPONSE_PSEUDO_HEADERS = [':status'] as const
export const NO_PSEUDO_HEADERS: readonly string[] = []
