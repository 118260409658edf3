import { MapType } from '../abi/enums'
import { parsePairs } from '../abi/pairs'
import { WasmResult } from '../abi/status'
import { validPair } from './headers'
import type { GrpcCallRequest, HostVm } from './types'

// A service or method name becomes one segment of the request path.
const SEGMENT = /^[A-Za-z0-9._~!$&'()*+,;=:@-]+$/

/** proxy_grpc_call/stream/send/cancel/close: validation here, the callout itself in the VM's gRPC manager. */
export function grpcFunctions (vm: HostVm) {
  /** Reads and checks what a call and a stream share; a status when it is refused. */
  function request (upstreamPtr: number, upstreamLen: number, servicePtr: number, serviceLen: number, methodPtr: number, methodLen: number,
    metadataPtr: number, metadataLen: number, tokenPtr: number): GrpcCallRequest | WasmResult {
    const mem = vm.mem
    const cluster = mem.utf8(upstreamPtr, upstreamLen)
    const service = mem.latin1(servicePtr, serviceLen)
    const method = mem.latin1(methodPtr, methodLen)
    // The token is written only on success, but its place is checked before anything is sent.
    if (cluster === null || service === null || method === null || !mem.valid(metadataPtr, metadataLen) || !mem.valid(tokenPtr, 4)) {
      return WasmResult.InvalidMemoryAccess
    }
    if (!SEGMENT.test(service) || !SEGMENT.test(method)) return WasmResult.BadArgument
    const metadata = parsePairs(mem.buf, metadataPtr >>> 0, metadataLen >>> 0)
    if (metadata === null) return WasmResult.BadArgument
    const ctx = vm.ctx()
    for (let i = 0; i < metadata.length; i += 2) {
      metadata[i] = metadata[i].toLowerCase()
      // Metadata has no pseudo-headers: `:path` and friends are refused like any invalid name.
      if (!validPair(ctx, MapType.GrpcInitialMetadata, metadata[i], metadata[i + 1])) return WasmResult.BadArgument
    }
    return { cluster, service, method, metadata, timeoutMs: 0 }
  }

  function start (req: GrpcCallRequest | WasmResult, stream: boolean, tokenPtr: number): number {
    if (typeof req === 'number') return req
    const { status, token } = vm.grpcCall(req, stream)
    if (status === WasmResult.Ok) vm.mem.writeU32(tokenPtr, token)
    return status
  }

  return {
    proxy_grpc_call (upstreamPtr: number, upstreamLen: number, servicePtr: number, serviceLen: number, methodPtr: number, methodLen: number,
      metadataPtr: number, metadataLen: number, messagePtr: number, messageLen: number, timeoutMs: number, tokenPtr: number): number {
      const message = vm.mem.copy(messagePtr, messageLen)
      if (message === null) return WasmResult.InvalidMemoryAccess
      const req = request(upstreamPtr, upstreamLen, servicePtr, serviceLen, methodPtr, methodLen, metadataPtr, metadataLen, tokenPtr)
      if (typeof req !== 'number') {
        req.message = message
        req.timeoutMs = timeoutMs >>> 0
      }
      return start(req, false, tokenPtr)
    },

    proxy_grpc_stream (upstreamPtr: number, upstreamLen: number, servicePtr: number, serviceLen: number, methodPtr: number, methodLen: number,
      metadataPtr: number, metadataLen: number, tokenPtr: number): number {
      return start(request(upstreamPtr, upstreamLen, servicePtr, serviceLen, methodPtr, methodLen, metadataPtr, metadataLen, tokenPtr), true, tokenPtr)
    },

    proxy_grpc_send (token: number, messagePtr: number, messageLen: number, endStream: number): number {
      const message = vm.mem.copy(messagePtr, messageLen)
      if (message === null) return WasmResult.InvalidMemoryAccess
      return vm.grpcSend(token >>> 0, message, endStream !== 0)
    },

    proxy_grpc_cancel (token: number): number {
      return vm.grpcEnd(token >>> 0, true)
    },

    proxy_grpc_close (token: number): number {
      return vm.grpcEnd(token >>> 0, false)
    }
  }
}
