import { MapType } from '../abi/enums'
import { parsePairs } from '../abi/pairs'
import { WasmResult } from '../abi/status'
import { validPair } from './headers'
import type { HostVm } from './types'

// timeout_ms is a signed i32 in Envoy: 2^31 and above are negative there.
const MAX_TIMEOUT = 0x7fffffff

/** proxy_http_call: validates everything, then hands the call to the VM's callout manager. */
export function calloutFunctions (vm: HostVm) {
  return {
    proxy_http_call (upstreamPtr: number, upstreamLen: number, headersPtr: number, headersLen: number, bodyPtr: number, bodyLen: number,
      trailersPtr: number, trailersLen: number, timeoutMs: number, tokenPtr: number): number {
      // The token pointer is checked (by writing 0) before anything is sent.
      if (!vm.mem.writeU32(tokenPtr, 0)) return WasmResult.InvalidMemoryAccess
      const mem = vm.mem
      const cluster = mem.utf8(upstreamPtr, upstreamLen)
      const body = mem.copy(bodyPtr, bodyLen)
      if (cluster === null || body === null || !mem.valid(headersPtr, headersLen) || !mem.valid(trailersPtr, trailersLen)) {
        return WasmResult.InvalidMemoryAccess
      }
      if ((timeoutMs >>> 0) > MAX_TIMEOUT) return WasmResult.BadArgument
      const headers = parsePairs(mem.buf, headersPtr >>> 0, headersLen >>> 0)
      const trailers = parsePairs(mem.buf, trailersPtr >>> 0, trailersLen >>> 0)
      if (headers === null || trailers === null) return WasmResult.BadArgument
      const ctx = vm.ctx()
      const pseudo: Record<string, string> = {}
      const regular: string[] = []
      for (let i = 0; i < headers.length; i += 2) {
        const name = headers[i].toLowerCase()
        const value = headers[i + 1]
        if (!validPair(ctx, MapType.RequestHeaders, name, value)) return WasmResult.BadArgument
        if (name.charCodeAt(0) === 58) pseudo[name] ??= value
        else regular.push(name, value)
      }
      for (let i = 0; i < trailers.length; i += 2) {
        trailers[i] = trailers[i].toLowerCase()
        if (!validPair(ctx, MapType.RequestTrailers, trailers[i], trailers[i + 1])) return WasmResult.BadArgument
      }
      const method = pseudo[':method']
      const path = pseudo[':path']
      const authority = pseudo[':authority']
      if (method === undefined || path === undefined || authority === undefined) return WasmResult.BadArgument
      // A callout is an origin-form request: no `*`, no CONNECT tunnel.
      if (path.charCodeAt(0) !== 47 || method === 'CONNECT') return WasmResult.BadArgument
      const { status, token } = vm.httpCall({ cluster, method, path, authority, headers: regular, body, trailers, timeoutMs: timeoutMs >>> 0 })
      if (status === WasmResult.Ok) mem.writeU32(tokenPtr, token)
      return status
    }
  }
}
