import createError from '@fastify/error'

/**
 * Errors of fastify-proxy-wasm. Configuration errors name the file (or
 * configs[i]), the key and what was expected; runtime errors carry the
 * HTTP status the client receives.
 */
export const errors = {
  /** A configuration value is missing, of the wrong type or out of range. */
  InvalidConfig: createError('FST_PROXY_WASM_INVALID_CONFIG', '%s', 500),
  /** A YAML or Wasm file cannot be found or read. */
  File: createError('FST_PROXY_WASM_FILE', '%s', 500),
  /** A YAML file does not parse. */
  Yaml: createError('FST_PROXY_WASM_YAML', '%s', 500),
  /** The Wasm module is not usable as a Proxy-Wasm filter. */
  Module: createError('FST_PROXY_WASM_MODULE', '%s', 500),
  /** The filter failed or refused to start (start code, on_vm_start, on_configure). */
  Start: createError('FST_PROXY_WASM_START', '%s', 500),
  /** A route's `config.proxyWasm` is invalid. */
  RouteConfig: createError('FST_PROXY_WASM_ROUTE_CONFIG', '%s', 500),
  /** A filter's VM has failed and the plugin fails closed. */
  VmFailed: createError('FST_PROXY_WASM_VM_FAILED', '%s', 503)
}
