import { envImportSignatures, WASI_MODULES, WASI_SIGNATURES } from '../abi/signatures'
import { Errno, WasmResult } from '../abi/status'
import { isHostTrap, RestrictedCall } from '../vm/traps'
import { Restriction } from '../vm/vm'
import type { WasmImports } from '../vm/wasm-api'
import { bufferFunctions } from './buffers'
import { calloutFunctions } from './callouts'
import { emscriptenFunctions } from './emscripten'
import { grpcFunctions } from './grpc'
import { headerFunctions } from './headers'
import { loggingFunctions } from './logging'
import { metricFunctions } from './metrics'
import { pendingFunctions } from './pending'
import { propertyFunctions } from './properties'
import { streamFunctions } from './stream'
import { timeFunctions } from './time'
import type { HostVm } from './types'
import { wasiFunctions } from './wasi'

// What the guest may call while the host runs its start function or its
// allocator (proxy-wasm-cpp-host's restricted callbacks).
const START_ENV = new Set(['proxy_log', 'emscripten_notify_memory_growth'])
const START_WASI_DENIED = new Set(['proxy_log'])
const ALLOC_ALLOWED = new Set(['proxy_log', 'fd_write', 'clock_time_get', 'poll_oneoff'])

type HostFn = (...args: any[]) => number | void

/**
 * Wraps a host function: enforces the restriction in force, and turns any
 * unexpected exception into an error status so the guest never sees a JS
 * exception except the deliberate traps (proc_exit, restricted calls).
 */
function guard (vm: HostVm, name: string, fn: HostFn, okStart: boolean, failure: number, report: (name: string, err: unknown) => void): HostFn {
  const okAlloc = ALLOC_ALLOWED.has(name)
  return function (this: unknown) {
    const r = vm.wasm.restriction
    if (r !== Restriction.None && !(r === Restriction.Start ? okStart : okAlloc)) {
      throw new RestrictedCall(name, r === Restriction.Start ? 'module start' : 'memory allocation')
    }
    try {
      return fn.apply(undefined, arguments as unknown as any[])
    } catch (err) {
      if (isHostTrap(err)) throw err
      report(name, err)
      return failure
    }
  }
}

/** The import object for a module of `vm.abi`: `env` plus WASI under both names. */
export function buildImports (vm: HostVm, report: (name: string, err: unknown) => void): WasmImports {
  const all: Record<string, HostFn> = {
    ...loggingFunctions(vm),
    ...timeFunctions(vm),
    ...headerFunctions(vm),
    ...bufferFunctions(vm),
    ...propertyFunctions(vm),
    ...streamFunctions(vm),
    ...calloutFunctions(vm),
    ...metricFunctions(vm),
    ...grpcFunctions(vm),
    ...pendingFunctions(vm),
    ...emscriptenFunctions()
  }
  const env: Record<string, HostFn> = {}
  for (const name of Object.keys(envImportSignatures(vm.abi))) {
    const fn = all[name]
    if (fn === undefined) throw new Error(`host function ${name} is not implemented`)
    env[name] = guard(vm, name, fn, START_ENV.has(name), WasmResult.InternalFailure, report)
  }
  const wasiImpl = wasiFunctions(vm) as Record<string, HostFn>
  const wasi: Record<string, HostFn> = {}
  for (const name of Object.keys(WASI_SIGNATURES)) {
    wasi[name] = guard(vm, name, wasiImpl[name], !START_WASI_DENIED.has(name), Errno.Inval, report)
  }
  const imports: WasmImports = { env }
  for (const m of WASI_MODULES) imports[m] = wasi
  return imports
}
