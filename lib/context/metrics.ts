import { MetricType } from '../abi/enums'

/**
 * The metrics of one app: what filters define (proxy_define_metric) and
 * the host's own figures, rendered in the Prometheus text format 0.0.4.
 *
 * Names: filter metrics are `proxy_wasm_filter_<name>` (the filter's name
 * with every character outside [a-zA-Z0-9_] replaced by `_`; counters end
 * in `_total`); host figures are `proxy_wasm_<figure>`. The prefixes keep
 * the two apart. Every series carries `filter="<plugin name>"`.
 */
export const FILTER_PREFIX = 'proxy_wasm_filter_'
export const HOST_PREFIX = 'proxy_wasm_'

/** Envoy's default histogram buckets (integers; 0.5 holds the zeros). */
export const HISTOGRAM_BUCKETS: readonly number[] = [
  0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000
]

const TYPE_NAMES = ['counter', 'gauge', 'histogram'] as const

/** One series of a filter metric. Counters are u64, gauges i64 (they may go below zero). */
export class Series {
  value = 0n
  /** Histograms: per-bucket counts (not cumulative), the last one for +Inf. */
  buckets: number[] | undefined
  sum = 0n
  count = 0

  constructor (type: MetricType) {
    if (type === MetricType.Histogram) this.buckets = new Array(HISTOGRAM_BUCKETS.length + 1).fill(0)
  }

  observe (sample: bigint): void {
    const buckets = this.buckets as number[]
    const n = Number(sample)
    let i = 0
    while (i < HISTOGRAM_BUCKETS.length && n > HISTOGRAM_BUCKETS[i]) i++
    buckets[i]++
    this.sum += sample
    this.count++
  }
}

/** A metric name as a filter defined it, exported as one family with a series per filter. */
export class Family {
  readonly series = new Map<string, Series>()

  constructor (readonly name: string, readonly type: MetricType, readonly raw: string) {}

  seriesOf (filter: string): Series {
    let s = this.series.get(filter)
    if (s === undefined) {
      s = new Series(this.type)
      this.series.set(filter, s)
    }
    return s
  }
}

/** The host's counters for one filter. */
interface HostCounts {
  requests: number
  localReplies: number
  vmFailures: number
  httpCalls: number
  httpCallFailures: number
  grpcCalls: number
  grpcCallFailures: number
}

const HOST_COUNTERS: ReadonlyArray<{ key: keyof HostCounts, name: string, help: string }> = [
  { key: 'requests', name: 'requests_total', help: 'Requests that reached the filter.' },
  { key: 'localReplies', name: 'local_replies_total', help: 'Local replies sent by the filter, including the 503 of a failed filter that fails closed.' },
  { key: 'vmFailures', name: 'vm_failures_total', help: 'VM failures (traps) in a callback of the filter.' },
  { key: 'httpCalls', name: 'http_calls_total', help: 'HTTP callouts of the filter that completed (answered or failed).' },
  { key: 'httpCallFailures', name: 'http_call_failures_total', help: 'HTTP callouts of the filter that got no response (refused, reset, timeout, ...).' },
  { key: 'grpcCalls', name: 'grpc_calls_total', help: 'gRPC callouts of the filter that completed.' },
  { key: 'grpcCallFailures', name: 'grpc_call_failures_total', help: 'gRPC callouts of the filter that failed.' }
]
const MEMORY_NAME = 'vm_memory_bytes'

export interface VmMemory {
  vmId: string
  filters: string[]
  bytes: number
}

/** `\`, `"` and newlines escaped, as label values require. */
export function escapeLabel (value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"')
}

function escapeHelp (text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')
}

/** A filter's metric name as a Prometheus name fragment. */
export function sanitizeName (raw: string): string {
  return raw.replace(/[^a-zA-Z0-9_]/gu, '_')
}

/** Every sample name a family of this type and name writes. */
function sampleNames (name: string, type: MetricType): string[] {
  return type === MetricType.Histogram ? [name, `${name}_bucket`, `${name}_sum`, `${name}_count`] : [name]
}

/** Per-app registry: several Fastify apps in one process each have their own. */
export class MetricsRegistry {
  private readonly families = new Map<string, Family>()
  /** Sample names in use, so no two families share one. */
  private readonly taken = new Set<string>()
  private readonly hostCounts = new Map<string, HostCounts>()
  /** VM memory, read at scrape time. */
  vmMemory: () => VmMemory[] = () => []

  constructor () {
    for (const c of HOST_COUNTERS) this.taken.add(HOST_PREFIX + c.name)
    this.taken.add(HOST_PREFIX + MEMORY_NAME)
  }

  /**
   * The family of a filter metric (one per type and name, shared by every
   * filter). Names that clash after sanitizing get `_2`, `_3`, ...
   * `renamed` tells the caller when that happened.
   */
  family (type: MetricType, raw: string): { family: Family, created: boolean, renamed: boolean } {
    const key = `${type}\0${raw}`
    const existing = this.families.get(key)
    if (existing !== undefined) return { family: existing, created: false, renamed: false }
    let stem = FILTER_PREFIX + sanitizeName(raw)
    if (type === MetricType.Counter && stem.endsWith('_total')) stem = stem.slice(0, -6)
    const nameFor = (s: string) => type === MetricType.Counter ? `${s}_total` : s
    let name = nameFor(stem)
    let n = 1
    while (sampleNames(name, type).some(s => this.taken.has(s))) name = nameFor(`${stem}_${++n}`)
    for (const s of sampleNames(name, type)) this.taken.add(s)
    const family = new Family(name, type, raw)
    this.families.set(key, family)
    return { family, created: true, renamed: n > 1 }
  }

  /** A configured filter: its host figures are exported (at 0) from the start. */
  addFilter (filter: string): void {
    this.counts(filter)
  }

  private counts (filter: string): HostCounts {
    let c = this.hostCounts.get(filter)
    if (c === undefined) {
      c = { requests: 0, localReplies: 0, vmFailures: 0, httpCalls: 0, httpCallFailures: 0, grpcCalls: 0, grpcCallFailures: 0 }
      this.hostCounts.set(filter, c)
    }
    return c
  }

  countRequest (filter: string): void {
    this.counts(filter).requests++
  }

  countLocalReply (filter: string): void {
    this.counts(filter).localReplies++
  }

  countVmFailure (filter: string): void {
    this.counts(filter).vmFailures++
  }

  /** A completed HTTP callout; `failed` when it got no response. */
  countHttpCall (filter: string, failed: boolean): void {
    const c = this.counts(filter)
    c.httpCalls++
    if (failed) c.httpCallFailures++
  }

  /** A completed gRPC callout; `failed` when it did not end with status OK. */
  countGrpcCall (filter: string, failed: boolean): void {
    const c = this.counts(filter)
    c.grpcCalls++
    if (failed) c.grpcCallFailures++
  }

  /** Everything, in the Prometheus text format 0.0.4 (ends with a newline). */
  text (): string {
    const out: string[] = []
    const filters = [...this.hostCounts.keys()].sort()
    for (const c of HOST_COUNTERS) {
      const name = HOST_PREFIX + c.name
      out.push(`# HELP ${name} ${c.help}`, `# TYPE ${name} counter`)
      for (const f of filters) out.push(`${name}{filter="${escapeLabel(f)}"} ${(this.hostCounts.get(f) as HostCounts)[c.key]}`)
    }
    const memory = HOST_PREFIX + MEMORY_NAME
    out.push(`# HELP ${memory} Linear memory of each VM in bytes.`, `# TYPE ${memory} gauge`)
    for (const m of this.vmMemory()) {
      out.push(`${memory}{vm_id="${escapeLabel(m.vmId)}",filters="${escapeLabel(m.filters.join(','))}"} ${m.bytes}`)
    }
    const families = [...this.families.values()].sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
    for (const family of families) renderFamily(family, out)
    return out.join('\n') + '\n'
  }
}

function renderFamily (family: Family, out: string[]): void {
  const { name, type } = family
  out.push(`# HELP ${name} ${escapeHelp(`Filter ${TYPE_NAMES[type]} "${family.raw}"`)}`, `# TYPE ${name} ${TYPE_NAMES[type]}`)
  const filters = [...family.series.keys()].sort()
  for (const f of filters) {
    const s = family.series.get(f) as Series
    const label = `filter="${escapeLabel(f)}"`
    if (s.buckets === undefined) {
      out.push(`${name}{${label}} ${s.value}`)
      continue
    }
    let cumulative = 0
    for (let i = 0; i < HISTOGRAM_BUCKETS.length; i++) {
      cumulative += s.buckets[i]
      out.push(`${name}_bucket{${label},le="${HISTOGRAM_BUCKETS[i]}"} ${cumulative}`)
    }
    out.push(`${name}_bucket{${label},le="+Inf"} ${s.count}`, `${name}_sum{${label}} ${s.sum}`, `${name}_count{${label}} ${s.count}`)
  }
}
