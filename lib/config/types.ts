/** Configuration as users write it: the ATS YAML schema and Envoy's PluginConfig. */

/** Envoy's `google.protobuf.Any` wrapper, or any YAML value (sent as JSON). */
export type ConfigurationValue =
  | string
  | number
  | boolean
  | { '@type': string, value?: unknown }
  | Record<string, unknown>
  | unknown[]

export interface CodeConfig {
  local: {
    /** A .wasm file, relative to the YAML file's folder (or `baseDir`). */
    filename?: string
    inline_string?: string
    /** Base64 text, or bytes. */
    inline_bytes?: string | Uint8Array
  }
}

export interface VmConfig {
  vm_id?: string
  vmId?: string
  /** `envoy.wasm.runtime.v8`, `ats.wasm.runtime.*` or empty: all run on Node's V8. */
  runtime?: string
  configuration?: ConfigurationValue
  code: CodeConfig
  environment_variables?: {
    host_env_keys?: string[]
    key_values?: Record<string, string>
  }
  allow_precompiled?: boolean | 'true' | 'false'
  nack_on_code_cache_miss?: boolean
}

export interface PluginConfig {
  name?: string
  root_id?: string
  rootId?: string
  configuration?: ConfigurationValue
  fail_open?: boolean | 'true' | 'false'
  failure_policy?: 'UNSPECIFIED' | 'FAIL_CLOSED' | 'FAIL_OPEN'
  vm_config?: VmConfig
  vmConfig?: VmConfig
  allow_on_headers_stop_iteration?: boolean
}

/** A configuration after validation: everything resolved, bytes loaded. */
export interface PluginSpec {
  name: string
  rootId: string
  configuration: Buffer
  failOpen: boolean
  /** Envoy's allow_on_headers_stop_iteration: StopIteration from headers still lets body callbacks run. */
  allowStopIteration: boolean
  /** `filters/auth.yaml` or `configs[1]`: where to look when it fails. */
  source: string
  /** Key path of the plugin map inside the source (`config.` for ATS files). */
  keyPrefix: string
  /** How the source spelled the VM key (`vm_config` or `vmConfig`), for messages. */
  vmKey: string
  vm: VmSpec
}

export interface VmSpec {
  vmId: string
  runtime: string
  configuration: Buffer
  code: Buffer
  /** The file the code came from, or `inline`. */
  codeSource: string
  allowPrecompiled: boolean
  /** WASI environment as `KEY=VALUE`. */
  environ: string[]
}
