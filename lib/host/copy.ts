import { WasmResult } from '../abi/status'
import { pairsByteLength, writePairs } from '../abi/pairs'
import type { HostVm } from './types'

/**
 * Writes variable-size results the way the reference host does: the guest
 * allocator provides the memory, the host copies the bytes there and writes
 * pointer and size. Zero-length results are (0, 0) without allocating.
 */

function outputsValid (vm: HostVm, ptrPtr: number, sizePtr: number): boolean {
  return vm.mem.valid(ptrPtr, 4) && vm.mem.valid(sizePtr, 4)
}

function finish (vm: HostVm, ptrPtr: number, sizePtr: number, ptr: number, size: number): WasmResult {
  if (!vm.mem.writeU32(ptrPtr, ptr) || !vm.mem.writeU32(sizePtr, size)) return WasmResult.InvalidMemoryAccess
  return WasmResult.Ok
}

export function copyBytesOut (vm: HostVm, bytes: Uint8Array, ptrPtr: number, sizePtr: number): WasmResult {
  if (!outputsValid(vm, ptrPtr, sizePtr)) return WasmResult.InvalidMemoryAccess
  const size = bytes.length
  if (size === 0) return finish(vm, ptrPtr, sizePtr, 0, 0)
  const ptr = vm.wasm.allocate(size)
  if (ptr === 0) return WasmResult.InvalidMemoryAccess
  vm.mem.buf.set(bytes, ptr)
  return finish(vm, ptrPtr, sizePtr, ptr, size)
}

/** Latin1 strings go straight into guest memory, one byte per char. */
export function copyLatin1Out (vm: HostVm, text: string, ptrPtr: number, sizePtr: number): WasmResult {
  if (!outputsValid(vm, ptrPtr, sizePtr)) return WasmResult.InvalidMemoryAccess
  const size = text.length
  if (size === 0) return finish(vm, ptrPtr, sizePtr, 0, 0)
  const ptr = vm.wasm.allocate(size)
  if (ptr === 0) return WasmResult.InvalidMemoryAccess
  vm.mem.buf.write(text, ptr, size, 'latin1')
  return finish(vm, ptrPtr, sizePtr, ptr, size)
}

/** Serializes a header map directly into guest memory. Empty maps are (0, 0). */
export function copyPairsOut (vm: HostVm, flat: readonly string[], ptrPtr: number, sizePtr: number): WasmResult {
  if (!outputsValid(vm, ptrPtr, sizePtr)) return WasmResult.InvalidMemoryAccess
  if (flat.length === 0) return finish(vm, ptrPtr, sizePtr, 0, 0)
  const size = pairsByteLength(flat)
  const ptr = vm.wasm.allocate(size)
  if (ptr === 0) return WasmResult.InvalidMemoryAccess
  writePairs(vm.mem.buf, ptr, flat)
  return finish(vm, ptrPtr, sizePtr, ptr, size)
}
