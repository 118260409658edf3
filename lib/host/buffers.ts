import { BUFFER_TYPE_MAX, BufferType } from '../abi/enums'
import { WasmResult } from '../abi/status'
import { copyBytesOut } from './copy'
import type { HostVm } from './types'

/** proxy_get_buffer_bytes / _status, proxy_set_buffer_bytes and 0.1.0's proxy_get_configuration. */
export function bufferFunctions (vm: HostVm) {
  return {
    proxy_get_buffer_bytes (type: number, start: number, maxSize: number, ptrPtr: number, sizePtr: number): number {
      if ((type >>> 0) > BUFFER_TYPE_MAX) return WasmResult.BadArgument
      const buffer = vm.ctx().buffer(type)
      if (buffer === undefined) return WasmResult.NotFound
      // Clamp in 64-bit-safe JS numbers: start past the end reads nothing.
      const from = start >>> 0
      const length = buffer.length
      const n = from >= length ? 0 : Math.min(maxSize >>> 0, length - from)
      return copyBytesOut(vm, n === 0 ? EMPTY : buffer.read(from, n), ptrPtr, sizePtr)
    },

    proxy_get_buffer_status (type: number, lengthPtr: number, flagsPtr: number): number {
      if ((type >>> 0) > BUFFER_TYPE_MAX) return WasmResult.BadArgument
      const buffer = vm.ctx().buffer(type)
      if (buffer === undefined) return WasmResult.NotFound
      if (!vm.mem.valid(lengthPtr, 4) || !vm.mem.valid(flagsPtr, 4)) return WasmResult.InvalidMemoryAccess
      vm.mem.writeU32(lengthPtr, buffer.length)
      vm.mem.writeU32(flagsPtr, 0)
      return WasmResult.Ok
    },

    proxy_set_buffer_bytes (type: number, start: number, size: number, dataPtr: number, dataLen: number): number {
      if ((type >>> 0) > BUFFER_TYPE_MAX) return WasmResult.BadArgument
      const buffer = vm.ctx().buffer(type)
      if (buffer === undefined) return WasmResult.NotFound
      if (buffer.write === undefined) return WasmResult.BadArgument
      const data = vm.mem.copy(dataPtr, dataLen)
      if (data === null) return WasmResult.InvalidMemoryAccess
      return buffer.write(start >>> 0, size >>> 0, data)
    },

    /** ABI 0.1.0: the VM configuration in on_vm_start, the plugin's in on_configure. */
    proxy_get_configuration (ptrPtr: number, sizePtr: number): number {
      const ctx = vm.ctx()
      const buffer = ctx.buffer(BufferType.PluginConfiguration) ?? ctx.buffer(BufferType.VmConfiguration)
      return copyBytesOut(vm, buffer === undefined ? EMPTY : buffer.read(0, buffer.length), ptrPtr, sizePtr)
    }
  }
}

const EMPTY = new Uint8Array(0)
