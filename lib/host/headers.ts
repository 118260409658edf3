import { AbiVersion, MAP_TYPE_MAX, MapType } from '../abi/enums'
import { isValidHeaderName, isValidHeaderValue } from '../abi/header-map'
import { parsePairs } from '../abi/pairs'
import { WasmResult } from '../abi/status'
import { copyLatin1Out, copyPairsOut } from './copy'
import type { HostContext, HostVm } from './types'

// Values some pseudo-headers must have before they may reach Node.
// A final status: 1xx are interim answers and cannot end a response.
const STATUS = /^[2-5][0-9][0-9]$/
const METHOD = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
// eslint-disable-next-line no-control-regex
const NO_SPACE = /^[^\x00-\x20\x7f]+$/

/** Whether a (lower-cased) name/value pair may be written into a map of `type`. */
export function validPair (ctx: HostContext, type: MapType, name: string, value: string): boolean {
  if (!isValidHeaderName(name, ctx.pseudoHeaders(type)) || !isValidHeaderValue(value)) return false
  if (name.charCodeAt(0) !== 58) return true
  switch (name.toLowerCase()) {
    case ':status': return STATUS.test(value)
    case ':method': return METHOD.test(value)
    case ':path': return NO_SPACE.test(value) && (value[0] === '/' || value === '*')
    case ':authority': return NO_SPACE.test(value)
    case ':scheme': return value === 'http' || value === 'https'
    default: return true
  }
}

/** The get/add/replace/remove/pairs/size host functions for header and trailer maps. */
export function headerFunctions (vm: HostVm) {
  const readable = (type: number) => {
    if ((type >>> 0) > MAP_TYPE_MAX) return undefined
    return vm.ctx().headerMap(type)
  }

  return {
    proxy_get_header_map_value (type: number, keyPtr: number, keyLen: number, ptrPtr: number, sizePtr: number): number {
      if ((type >>> 0) > MAP_TYPE_MAX) return WasmResult.BadArgument
      const key = vm.mem.latin1(keyPtr, keyLen)
      if (key === null) return WasmResult.InvalidMemoryAccess
      const map = vm.ctx().headerMap(type)
      if (map === undefined) return WasmResult.BadArgument
      const value = map.get(key)
      if (value === undefined) {
        // ABI 0.1.0 answered a missing header with an empty value.
        if (vm.abi === AbiVersion.V0_1_0) return copyLatin1Out(vm, '', ptrPtr, sizePtr)
        return WasmResult.NotFound
      }
      return copyLatin1Out(vm, value, ptrPtr, sizePtr)
    },

    proxy_get_header_map_pairs (type: number, ptrPtr: number, sizePtr: number): number {
      if ((type >>> 0) > MAP_TYPE_MAX) return WasmResult.BadArgument
      const map = readable(type)
      // A map that does not exist in this phase reads as empty (Envoy).
      return copyPairsOut(vm, map === undefined ? [] : map.flat, ptrPtr, sizePtr)
    },

    proxy_get_header_map_size (type: number, sizePtr: number): number {
      if ((type >>> 0) > MAP_TYPE_MAX) return WasmResult.BadArgument
      const map = readable(type)
      if (map === undefined) return WasmResult.BadArgument
      return vm.mem.writeU32(sizePtr, map.byteSize()) ? WasmResult.Ok : WasmResult.InvalidMemoryAccess
    },

    proxy_add_header_map_value (type: number, keyPtr: number, keyLen: number, valuePtr: number, valueLen: number): number {
      return mutate(vm, type, keyPtr, keyLen, valuePtr, valueLen, 'add')
    },

    proxy_replace_header_map_value (type: number, keyPtr: number, keyLen: number, valuePtr: number, valueLen: number): number {
      return mutate(vm, type, keyPtr, keyLen, valuePtr, valueLen, 'replace')
    },

    proxy_remove_header_map_value (type: number, keyPtr: number, keyLen: number): number {
      if ((type >>> 0) > MAP_TYPE_MAX) return WasmResult.BadArgument
      const key = vm.mem.latin1(keyPtr, keyLen)
      if (key === null) return WasmResult.InvalidMemoryAccess
      const ctx = vm.ctx()
      const map = ctx.headerMap(type)
      if (map === undefined || !ctx.headerMapWritable(type)) return WasmResult.BadArgument
      // Pseudo-headers describe the request line or status; they cannot go.
      if (key.charCodeAt(0) === 58) return WasmResult.BadArgument
      map.remove(key)
      return WasmResult.Ok
    },

    proxy_set_header_map_pairs (type: number, ptr: number, size: number): number {
      if ((type >>> 0) > MAP_TYPE_MAX) return WasmResult.BadArgument
      if (!vm.mem.valid(ptr, size)) return WasmResult.InvalidMemoryAccess
      const ctx = vm.ctx()
      const map = ctx.headerMap(type)
      if (map === undefined || !ctx.headerMapWritable(type)) return WasmResult.BadArgument
      const flat = parsePairs(vm.mem.buf, ptr >>> 0, size >>> 0)
      if (flat === null) return WasmResult.BadArgument
      for (let i = 0; i < flat.length; i += 2) {
        flat[i] = flat[i].toLowerCase()
        if (!validPair(ctx, type, flat[i], flat[i + 1])) return WasmResult.BadArgument
        // A pseudo-header has exactly one value.
        if (flat[i].charCodeAt(0) === 58 && hasName(flat, flat[i], i)) return WasmResult.BadArgument
      }
      // Pseudo-headers left out keep their values (a request always has a
      // path), first and in their old order.
      const kept: string[] = []
      for (let i = 0; i < map.flat.length; i += 2) {
        const name = map.flat[i]
        if (name.charCodeAt(0) === 58 && !hasName(flat, name)) kept.push(name, map.flat[i + 1])
      }
      map.setAll(kept.length === 0 ? flat : kept.concat(flat))
      return WasmResult.Ok
    }
  }
}

function mutate (vm: HostVm, type: number, keyPtr: number, keyLen: number, valuePtr: number, valueLen: number, op: 'add' | 'replace'): number {
  if ((type >>> 0) > MAP_TYPE_MAX) return WasmResult.BadArgument
  const key = vm.mem.latin1(keyPtr, keyLen)
  const value = vm.mem.latin1(valuePtr, valueLen)
  if (key === null || value === null) return WasmResult.InvalidMemoryAccess
  const ctx = vm.ctx()
  const map = ctx.headerMap(type)
  if (map === undefined || !ctx.headerMapWritable(type)) return WasmResult.BadArgument
  if (!validPair(ctx, type, key, value)) return WasmResult.BadArgument
  // A pseudo-header has exactly one value: adding one replaces it.
  if (op === 'add' && key.charCodeAt(0) !== 58) map.add(key, value)
  else map.replace(key, value)
  return WasmResult.Ok
}

/** Whether `name` occurs in `flat` before index `end` (default: anywhere). */
function hasName (flat: readonly string[], name: string, end = flat.length): boolean {
  for (let i = 0; i < end; i += 2) if (flat[i] === name) return true
  return false
}
