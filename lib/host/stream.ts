import { MapType, STREAM_TYPE_MAX, StreamType } from '../abi/enums'
import { parsePairs } from '../abi/pairs'
import { WasmResult } from '../abi/status'
import { copyBytesOut } from './copy'
import { validPair } from './headers'
import type { HostVm } from './types'

/** Stream control, local replies, effective context and root-context completion. */
export function streamFunctions (vm: HostVm) {
  return {
    proxy_continue_stream (type: number): number {
      if ((type >>> 0) > STREAM_TYPE_MAX) return WasmResult.BadArgument
      return vm.ctx().continueStream(type)
    },

    proxy_close_stream (type: number): number {
      if ((type >>> 0) > STREAM_TYPE_MAX) return WasmResult.BadArgument
      return vm.ctx().closeStream(type)
    },

    proxy_continue_request (): number {
      return vm.ctx().continueStream(StreamType.Request)
    },

    proxy_continue_response (): number {
      return vm.ctx().continueStream(StreamType.Response)
    },

    /** Routing happens before filters run in Fastify; there is no cache to clear. */
    proxy_clear_route_cache (): number {
      return WasmResult.Ok
    },

    proxy_send_local_response (status: number, detailsPtr: number, detailsLen: number, bodyPtr: number, bodyLen: number, headersPtr: number, headersLen: number, grpcStatus: number): number {
      const details = vm.mem.utf8(detailsPtr, detailsLen)
      const body = vm.mem.copy(bodyPtr, bodyLen)
      if (details === null || body === null || !vm.mem.valid(headersPtr, headersLen)) return WasmResult.InvalidMemoryAccess
      const code = status >>> 0
      // 1xx are interim answers: a local reply must be a final one.
      if (code < 200 || code > 599) return WasmResult.BadArgument
      const headers = parsePairs(vm.mem.buf, headersPtr >>> 0, headersLen >>> 0)
      if (headers === null) return WasmResult.BadArgument
      const ctx = vm.ctx()
      for (let i = 0; i < headers.length; i += 2) {
        headers[i] = headers[i].toLowerCase()
        if (headers[i].charCodeAt(0) === 58 || !validPair(ctx, MapType.ResponseHeaders, headers[i], headers[i + 1])) {
          return WasmResult.BadArgument
        }
      }
      const grpc = grpcStatus >= 0 && grpcStatus <= 16 ? grpcStatus : undefined
      return ctx.sendLocalResponse({ status: code, body, headers, details, grpcStatus: grpc })
    },

    proxy_set_effective_context (id: number): number {
      return vm.setEffectiveContext(id >>> 0) ? WasmResult.Ok : WasmResult.BadArgument
    },

    proxy_done (): number {
      return vm.ctx().done()
    },

    proxy_get_status (codePtr: number, msgPtrPtr: number, msgSizePtr: number): number {
      if (!vm.mem.valid(codePtr, 4)) return WasmResult.InvalidMemoryAccess
      const status = vm.callStatus()
      vm.mem.writeU32(codePtr, status.code)
      return copyBytesOut(vm, Buffer.from(status.message), msgPtrPtr, msgSizePtr)
    }
  }
}
