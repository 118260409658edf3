import { encodePropertyValue, splitPropertyPath } from '../abi/property'
import { WasmResult } from '../abi/status'
import { copyBytesOut } from './copy'
import type { HostVm } from './types'

/** proxy_get_property / proxy_set_property: the context resolves the path. */
export function propertyFunctions (vm: HostVm) {
  return {
    proxy_get_property (pathPtr: number, pathLen: number, ptrPtr: number, sizePtr: number): number {
      const raw = vm.mem.latin1(pathPtr, pathLen)
      if (raw === null) return WasmResult.InvalidMemoryAccess
      if (!vm.mem.valid(ptrPtr, 4) || !vm.mem.valid(sizePtr, 4)) return WasmResult.InvalidMemoryAccess
      if (raw.length === 0) return WasmResult.BadArgument
      const value = vm.ctx().property(splitPropertyPath(raw))
      if (value === undefined) return WasmResult.NotFound
      return copyBytesOut(vm, encodePropertyValue(value), ptrPtr, sizePtr)
    },

    proxy_set_property (pathPtr: number, pathLen: number, valuePtr: number, valueLen: number): number {
      const raw = vm.mem.latin1(pathPtr, pathLen)
      const value = vm.mem.copy(valuePtr, valueLen)
      if (raw === null || value === null) return WasmResult.InvalidMemoryAccess
      if (raw.length === 0) return WasmResult.BadArgument
      return vm.ctx().setProperty(splitPropertyPath(raw), raw, value)
    }
  }
}
