import { WasmResult } from '../abi/status'
import type { HostVm } from './types'

// Wall clock with sub-millisecond steps: a wall-clock origin plus the monotonic clock.
const WALL_ORIGIN_NS = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint()

export function realtimeNs (): bigint {
  return WALL_ORIGIN_NS + process.hrtime.bigint()
}

export function monotonicNs (): bigint {
  return process.hrtime.bigint()
}

/** proxy_get_current_time_nanoseconds and proxy_set_tick_period_milliseconds. */
export function timeFunctions (vm: HostVm) {
  return {
    proxy_get_current_time_nanoseconds (ptr: number): number {
      return vm.mem.writeU64(ptr, realtimeNs()) ? WasmResult.Ok : WasmResult.InvalidMemoryAccess
    },

    proxy_set_tick_period_milliseconds (ms: number): number {
      return vm.ctx().setTickPeriod(ms >>> 0)
    }
  }
}
