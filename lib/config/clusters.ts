import { errors } from '../errors'

/** A named upstream that filters may reach with proxy_http_call. */
export interface ClusterSpec {
  name: string
  /** The URL's origin: `http://host:port` or `https://host:port`. */
  origin: string
  /** For calls that pass timeout 0; 0 means none. */
  timeoutMs: number
}

/** How users write `options.clusters`: a URL, or a URL with a default timeout. */
export type ClusterOption = string | { url: string, timeout?: number }

// proxy_http_call's timeout is an i32 in milliseconds.
const MAX_TIMEOUT = 0x7fffffff

function keyOf (name: string): string {
  return /^[A-Za-z_$][\w$-]*$/.test(name) ? `options.clusters.${name}` : `options.clusters[${JSON.stringify(name)}]`
}

function describe (v: unknown): string {
  if (v === undefined) return 'nothing'
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'a list'
  if (typeof v === 'object') return 'an object'
  return `${typeof v} ${JSON.stringify(v)}`
}

function fail (key: string, expected: string, got: unknown): never {
  throw new errors.InvalidConfig(`${key}: expected ${expected}, got ${describe(got)}`)
}

function parseUrl (value: unknown, key: string): string {
  const expected = 'an http:// or https:// URL with no path, query or credentials'
  if (typeof value !== 'string') fail(key, expected, value)
  let url: URL
  try {
    url = new URL(value)
  } catch {
    fail(key, expected, value)
  }
  const ok = (url.protocol === 'http:' || url.protocol === 'https:') &&
    url.pathname === '/' && url.search === '' && url.hash === '' && url.username === '' && url.password === ''
  if (!ok) fail(key, expected, value)
  return url.origin
}

/**
 * Validates `options.clusters`: the only upstreams proxy_http_call may
 * reach, by name (filters cannot name arbitrary hosts).
 */
export function parseClusters (value: unknown): ClusterSpec[] {
  if (value === undefined) return []
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    fail('options.clusters', 'an object mapping cluster names to URLs', value)
  }
  const out: ClusterSpec[] = []
  for (const [name, entry] of Object.entries(value)) {
    const key = keyOf(name)
    // eslint-disable-next-line no-control-regex
    if (name.length === 0 || /[\x00-\x1f\x7f]/.test(name)) {
      throw new errors.InvalidConfig(`${key}: expected a non-empty cluster name without control characters`)
    }
    if (typeof entry === 'string') {
      out.push({ name, origin: parseUrl(entry, key), timeoutMs: 0 })
      continue
    }
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) {
      fail(key, 'a URL string or { url, timeout }', entry)
    }
    const { url, timeout, ...rest } = entry as Record<string, unknown>
    const unknown = Object.keys(rest)
    if (unknown.length > 0) throw new errors.InvalidConfig(`${key}.${unknown[0]}: unknown key; expected url or timeout`)
    const origin = parseUrl(url, `${key}.url`)
    if (timeout !== undefined && (typeof timeout !== 'number' || !Number.isInteger(timeout) || timeout < 0 || timeout > MAX_TIMEOUT)) {
      fail(`${key}.timeout`, `an integer number of milliseconds from 0 to ${MAX_TIMEOUT}`, timeout)
    }
    out.push({ name, origin, timeoutMs: timeout ?? 0 })
  }
  return out
}
