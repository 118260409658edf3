import { LogLevel, MetricType } from '../abi/enums'
import { WasmResult } from '../abi/status'
import type { HostMetrics, LogSink } from '../host/types'
import type { Family, MetricsRegistry, Series } from './metrics'

// Envoy's metric ids: the type in the low two bits, then steps of 4
// (counters 4, 8, ...; gauges 5, 9, ...; histograms 6, 10, ...).
const TYPE_MASK = 3
const ID_STEP = 4

/** Which filter the running code belongs to, and where to warn. */
export interface MetricOwner {
  filter (): string
  log (): LogSink
}

/**
 * A VM's metric ids (Envoy's semantics and status codes). An id names a
 * metric; the series it acts on is that of the filter whose context is
 * running, so two plugins sharing a VM each have their own.
 */
export class VmMetrics implements HostMetrics {
  private readonly ids = new Map<number, Family>()
  private readonly next = [ID_STEP, ID_STEP + 1, ID_STEP + 2]

  constructor (private readonly registry: MetricsRegistry, private readonly owner: MetricOwner) {}

  define (type: MetricType, name: string): { status: WasmResult, id: number } {
    if (type !== MetricType.Counter && type !== MetricType.Gauge && type !== MetricType.Histogram) return { status: WasmResult.BadArgument, id: 0 }
    const { family, renamed } = this.registry.family(type, name)
    if (renamed) {
      const log = this.owner.log()
      if (log.enabled(LogLevel.Warn)) log.write(LogLevel.Warn, `metric ${JSON.stringify(name)} is exported as ${family.name}: the name it would have is taken`)
    }
    // Defined means exported, at 0, for the defining filter.
    family.seriesOf(this.owner.filter())
    let id = this.next[type]
    // No id is reused, even after wrapping around.
    while (id === 0 || this.ids.has(id)) id = (id + ID_STEP) >>> 0
    this.next[type] = (id + ID_STEP) >>> 0
    this.ids.set(id, family)
    return { status: WasmResult.Ok, id }
  }

  private series (id: number): Series | undefined {
    return this.ids.get(id)?.seriesOf(this.owner.filter())
  }

  increment (id: number, offset: bigint): WasmResult {
    const type = id & TYPE_MASK
    if (type !== MetricType.Counter && type !== MetricType.Gauge) return WasmResult.BadArgument
    const s = this.series(id)
    if (s === undefined) return WasmResult.NotFound
    if (type === MetricType.Counter) {
      if (offset <= 0n) return WasmResult.BadArgument
      s.value = BigInt.asUintN(64, s.value + offset)
    } else {
      s.value = BigInt.asIntN(64, s.value + offset)
    }
    return WasmResult.Ok
  }

  /** `value` is the u64 the filter passed (as the signed i64 it arrives as). */
  record (id: number, value: bigint): WasmResult {
    const s = this.series(id)
    if (s === undefined) return WasmResult.NotFound
    switch (id & TYPE_MASK) {
      case MetricType.Counter: s.value = BigInt.asUintN(64, s.value + BigInt.asUintN(64, value)); break
      case MetricType.Gauge: s.value = BigInt.asIntN(64, value); break
      default: s.observe(BigInt.asUintN(64, value))
    }
    return WasmResult.Ok
  }

  get (id: number): { status: WasmResult, value: bigint } {
    const type = id & TYPE_MASK
    if (type !== MetricType.Counter && type !== MetricType.Gauge) return { status: WasmResult.BadArgument, value: 0n }
    const s = this.series(id)
    if (s === undefined) return { status: WasmResult.NotFound, value: 0n }
    return { status: WasmResult.Ok, value: s.value }
  }
}
