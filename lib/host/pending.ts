import { WasmResult } from '../abi/status'
import type { HostVm } from './types'

/**
 * Host functions whose implementation lands with later work (gRPC callouts,
 * shared state, metrics, foreign functions). They link, so modules that
 * import them load, and answer Unimplemented with a warning.
 */
const NAMES = [
  'proxy_get_shared_data', 'proxy_set_shared_data', 'proxy_register_shared_queue', 'proxy_resolve_shared_queue',
  'proxy_enqueue_shared_queue', 'proxy_dequeue_shared_queue',
  'proxy_call_foreign_function'
]

export function pendingFunctions (vm: HostVm) {
  const out: Record<string, () => number> = {}
  for (const name of NAMES) {
    out[name] = () => {
      const log = vm.ctx().log
      if (log.enabled(3)) log.write(3, `${name} is not supported by this host yet`)
      return WasmResult.Unimplemented
    }
  }
  return out
}
