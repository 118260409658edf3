import { MetricType } from '../abi/enums'
import { WasmResult } from '../abi/status'
import type { HostVm } from './types'

// Names are bytes with a length (never C strings) and must be UTF-8.
const utf8 = new TextDecoder('utf-8', { fatal: true })

/** proxy_define_metric, proxy_increment_metric, proxy_record_metric, proxy_get_metric (Envoy's statuses). */
export function metricFunctions (vm: HostVm) {
  return {
    proxy_define_metric (type: number, namePtr: number, nameLen: number, idPtr: number): number {
      if ((type >>> 0) > MetricType.Histogram) return WasmResult.BadArgument
      const bytes = vm.mem.slice(namePtr, nameLen)
      // The id pointer is checked before anything is defined.
      if (bytes === null || !vm.mem.valid(idPtr, 4)) return WasmResult.InvalidMemoryAccess
      if (bytes.length === 0) return WasmResult.BadArgument
      let name: string
      try {
        name = utf8.decode(bytes)
      } catch {
        return WasmResult.BadArgument
      }
      const { status, id } = vm.metrics.define(type, name)
      if (status === WasmResult.Ok) vm.mem.writeU32(idPtr, id)
      return status
    },

    proxy_increment_metric (id: number, offset: bigint): number {
      return vm.metrics.increment(id >>> 0, BigInt(offset))
    },

    proxy_record_metric (id: number, value: bigint): number {
      return vm.metrics.record(id >>> 0, BigInt(value))
    },

    proxy_get_metric (id: number, valuePtr: number): number {
      const { status, value } = vm.metrics.get(id >>> 0)
      if (status !== WasmResult.Ok) return status
      return vm.mem.writeU64(valuePtr, value) ? WasmResult.Ok : WasmResult.InvalidMemoryAccess
    }
  }
}
