import { WasmResult } from '../abi/status'
import type { HostVm } from './types'

/** proxy_log and proxy_get_log_level. */
export function loggingFunctions (vm: HostVm) {
  return {
    proxy_log (level: number, ptr: number, len: number): number {
      if ((level >>> 0) > 5) return WasmResult.BadArgument
      if (!vm.mem.valid(ptr, len)) return WasmResult.InvalidMemoryAccess
      const sink = vm.ctx().log
      // Decode only what will be written: SDKs log a lot at debug level.
      if (sink.enabled(level)) sink.write(level, vm.mem.utf8(ptr, len) as string)
      return WasmResult.Ok
    },

    proxy_get_log_level (ptr: number): number {
      return vm.mem.writeU32(ptr, vm.ctx().log.level()) ? WasmResult.Ok : WasmResult.InvalidMemoryAccess
    }
  }
}
