import { readFile } from 'node:fs/promises'
import { basename, dirname, extname, isAbsolute, resolve } from 'node:path'
import YAML from 'yaml'
import { errors } from '../errors'
import type { PluginSpec, VmSpec } from './types'

type Obj = Record<string, unknown>

/** Where a value sits, for messages: `filters/a.yaml: config.vm_config.vm_id`. */
class At {
  constructor (readonly source: string, readonly baseDir: string, readonly key: string) {}

  child (key: string): At {
    return new At(this.source, this.baseDir, this.key === '' ? key : `${this.key}.${key}`)
  }

  fail (expected: string): never {
    throw new errors.InvalidConfig(`${this.source}: ${this.key === '' ? '(top level)' : this.key}: ${expected}`)
  }
}

const RUNTIMES = new Set([
  '',
  'envoy.wasm.runtime.v8',
  'envoy.wasm.runtime.wamr',
  'envoy.wasm.runtime.wasmtime',
  'envoy.wasm.runtime.wavm',
  'ats.wasm.runtime.wamr',
  'ats.wasm.runtime.wasmtime',
  'ats.wasm.runtime.wasmedge',
  'ats.wasm.runtime.wavm'
])

const PLUGIN_KEYS = ['name', 'root_id', 'rootId', 'configuration', 'fail_open', 'failure_policy', 'vm_config', 'vmConfig', 'allow_on_headers_stop_iteration']
const VM_KEYS = ['vm_id', 'vmId', 'runtime', 'configuration', 'code', 'environment_variables', 'allow_precompiled', 'nack_on_code_cache_miss']

function typeOf (v: unknown): string {
  if (v === undefined) return 'nothing'
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'a list'
  if (v instanceof Uint8Array) return 'bytes'
  if (typeof v === 'object') return 'a map'
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return `${typeof v} ${JSON.stringify(v)}`
  return `a ${typeof v}`
}

/** JSON text of a configuration value given as a YAML/JS structure. */
function jsonBytes (v: unknown, at: At): Buffer {
  let text: string | undefined
  try {
    text = JSON.stringify(v)
  } catch (err) {
    at.fail(`cannot be sent as JSON: ${(err as Error).message}`)
  }
  if (text === undefined) at.fail(`cannot be sent as JSON, got ${typeOf(v)}`)
  return Buffer.from(text)
}

function isObj (v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array)
}

function map (v: unknown, at: At): Obj {
  if (!isObj(v)) at.fail(`expected a map, got ${typeOf(v)}`)
  return v
}

function onlyKeys (o: Obj, allowed: string[], at: At): void {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k)) at.child(k).fail(`unknown key; expected one of ${allowed.join(', ')}`)
  }
}

/** One of two spellings (`root_id` / `rootId`), not both. */
function either (o: Obj, a: string, b: string, at: At): [unknown, At] {
  if (o[a] !== undefined && o[b] !== undefined) at.child(b).fail(`both ${a} and ${b} are set; use one`)
  return o[b] !== undefined ? [o[b], at.child(b)] : [o[a], at.child(a)]
}

function optString (v: unknown, at: At): string | undefined {
  if (v === undefined || v === null) return undefined
  if (typeof v === 'string') return v
  // YAML scalars such as `vm_id: 1` are read as text, as ATS does.
  if (typeof v === 'number' || typeof v === 'boolean') return String(v)
  at.fail(`expected a string, got ${typeOf(v)}`)
}

/** A boolean, also as the strings "true"/"false" the ATS examples use. */
function optBool (v: unknown, at: At): boolean | undefined {
  if (v === undefined || v === null) return undefined
  if (typeof v === 'boolean') return v
  if (v === 'true') return true
  if (v === 'false') return false
  at.fail(`expected true or false, got ${typeOf(v)}`)
}

/**
 * A configuration value: text as is; Envoy's Any wrapper for StringValue,
 * BytesValue and Struct; any other YAML value as JSON text.
 */
function configurationBytes (v: unknown, at: At): Buffer {
  if (v === undefined || v === null) return Buffer.alloc(0)
  if (typeof v === 'string') return Buffer.from(v, 'utf8')
  if (typeof v === 'number' || typeof v === 'boolean') return Buffer.from(String(v))
  if (v instanceof Uint8Array) return Buffer.from(v)
  if (isObj(v) && typeof v['@type'] === 'string') {
    const type = v['@type']
    const value = v.value
    const name = type.slice(type.lastIndexOf('/') + 1)
    switch (name) {
      case 'google.protobuf.StringValue':
        if (typeof value !== 'string') at.child('value').fail(`a StringValue needs a string value, got ${typeOf(value)}`)
        return Buffer.from(value as string, 'utf8')
      case 'google.protobuf.BytesValue':
        if (value instanceof Uint8Array) return Buffer.from(value)
        if (typeof value !== 'string') at.child('value').fail(`a BytesValue needs base64 text, got ${typeOf(value)}`)
        return Buffer.from(value as string, 'base64')
      case 'google.protobuf.Struct':
      case 'google.protobuf.Value':
      case 'google.protobuf.ListValue':
        return jsonBytes(value ?? {}, at.child('value'))
      default:
        at.child('@type').fail(`unsupported type ${JSON.stringify(type)}; expected google.protobuf.StringValue, BytesValue or Struct`)
    }
  }
  return jsonBytes(v, at)
}

async function readCode (code: unknown, at: At): Promise<{ bytes: Buffer, source: string }> {
  const c = map(code, at)
  if (c.remote !== undefined) at.child('remote').fail('remote code is not supported; download the module and use code.local.filename')
  onlyKeys(c, ['local'], at)
  const localAt = at.child('local')
  const local = map(c.local, localAt)
  onlyKeys(local, ['filename', 'inline_string', 'inline_bytes'], localAt)
  const given = ['filename', 'inline_string', 'inline_bytes'].filter(k => local[k] !== undefined)
  if (given.length !== 1) localAt.fail(`expected exactly one of filename, inline_string, inline_bytes${given.length > 1 ? `, got ${given.join(' and ')}` : ''}`)
  if (local.inline_string !== undefined) {
    const s = optString(local.inline_string, localAt.child('inline_string')) as string
    return { bytes: Buffer.from(s, 'latin1'), source: 'inline_string' }
  }
  if (local.inline_bytes !== undefined) {
    const b = local.inline_bytes
    if (b instanceof Uint8Array) return { bytes: Buffer.from(b), source: 'inline_bytes' }
    if (typeof b !== 'string') localAt.child('inline_bytes').fail(`expected base64 text, got ${typeOf(b)}`)
    return { bytes: Buffer.from(b as string, 'base64'), source: 'inline_bytes' }
  }
  const fileAt = localAt.child('filename')
  const filename = optString(local.filename, fileAt) as string
  if (filename === '') fileAt.fail('expected a file name, got an empty string')
  const path = isAbsolute(filename) ? filename : resolve(at.baseDir, filename)
  try {
    return { bytes: await readFile(path), source: path }
  } catch (err) {
    throw new errors.File(`${at.source}: ${fileAt.key}: cannot read ${JSON.stringify(filename)} (resolved to ${path}): ${describeFsError(err)}`)
  }
}

function describeFsError (err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code
  if (code === 'ENOENT') return 'no such file'
  if (code === 'EACCES') return 'permission denied'
  if (code === 'EISDIR') return 'it is a directory'
  return (err as Error).message
}

// WASI hands the guest `KEY=VALUE\0` strings.
const isVariableName = (k: unknown): k is string => typeof k === 'string' && k !== '' && !k.includes('=') && !k.includes('\0')

function environ (v: unknown, at: At): string[] {
  if (v === undefined || v === null) return []
  const env = map(v, at)
  onlyKeys(env, ['host_env_keys', 'key_values'], at)
  const out = new Map<string, string>()
  const hostAt = at.child('host_env_keys')
  if (env.host_env_keys !== undefined && env.host_env_keys !== null) {
    if (!Array.isArray(env.host_env_keys)) hostAt.fail(`expected a list of variable names, got ${typeOf(env.host_env_keys)}`)
    const keys = env.host_env_keys as unknown[]
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i]
      if (!isVariableName(k)) hostAt.child(String(i)).fail(`expected a variable name, got ${typeOf(k)}`)
      const value = process.env[k as string]
      if (value !== undefined) out.set(k as string, value)
    }
  }
  const kvAt = at.child('key_values')
  if (env.key_values !== undefined && env.key_values !== null) {
    const kv = map(env.key_values, kvAt)
    for (const [k, value] of Object.entries(kv)) {
      if (!isVariableName(k)) kvAt.child(k).fail('expected a variable name: not empty, without "=" or NUL')
      const s = optString(value, kvAt.child(k)) ?? kvAt.child(k).fail('expected a string value, got null')
      if (s.includes('\0')) kvAt.child(k).fail('the value contains a NUL byte')
      // Envoy rejects a key given both ways.
      if (out.has(k) || (Array.isArray(env.host_env_keys) && env.host_env_keys.includes(k))) kvAt.child(k).fail('is also listed in host_env_keys; give each variable once')
      out.set(k, s)
    }
  }
  return [...out].map(([k, value]) => `${k}=${value}`)
}

async function vmSpec (v: unknown, at: At): Promise<VmSpec> {
  const o = map(v, at)
  onlyKeys(o, VM_KEYS, at)
  const [vmId, vmIdAt] = either(o, 'vm_id', 'vmId', at)
  const runtimeAt = at.child('runtime')
  const runtime = optString(o.runtime, runtimeAt) ?? ''
  if (runtime === 'envoy.wasm.runtime.null') runtimeAt.fail('the null runtime runs plugins compiled into Envoy; give a .wasm module and a V8-compatible runtime')
  if (!RUNTIMES.has(runtime)) runtimeAt.fail(`unknown runtime ${JSON.stringify(runtime)}; expected envoy.wasm.runtime.v8, an ats.wasm.runtime.* name, or nothing (all run on Node's V8)`)
  if (o.code === undefined) at.child('code').fail('missing; expected code.local.filename (or inline_string / inline_bytes)')
  const code = await readCode(o.code, at.child('code'))
  optBool(o.nack_on_code_cache_miss, at.child('nack_on_code_cache_miss'))
  return {
    vmId: optString(vmId, vmIdAt) ?? '',
    runtime,
    configuration: configurationBytes(o.configuration, at.child('configuration')),
    code: code.bytes,
    codeSource: code.source,
    allowPrecompiled: optBool(o.allow_precompiled, at.child('allow_precompiled')) ?? true,
    environ: environ(o.environment_variables, at.child('environment_variables'))
  }
}

async function pluginSpec (v: unknown, at: At, fallbackName: string): Promise<PluginSpec> {
  const o = map(v, at)
  if (o.capability_restriction_config !== undefined) {
    // Ignoring it would grant the filter what the configuration withholds.
    at.child('capability_restriction_config').fail('not supported: every host function is available to filters; remove the key')
  }
  onlyKeys(o, PLUGIN_KEYS, at)
  const [rootId, rootIdAt] = either(o, 'root_id', 'rootId', at)
  const [vm, vmAt] = either(o, 'vm_config', 'vmConfig', at)
  if (vm === undefined) vmAt.fail('missing; expected a map with code.local.filename')
  const root = optString(rootId, rootIdAt) ?? ''
  const failOpen = optBool(o.fail_open, at.child('fail_open'))
  const policyAt = at.child('failure_policy')
  const policy = optString(o.failure_policy, policyAt)
  if (policy !== undefined && !['UNSPECIFIED', 'FAIL_CLOSED', 'FAIL_OPEN'].includes(policy)) {
    policyAt.fail(`unknown policy ${JSON.stringify(policy)}; expected FAIL_CLOSED (the default) or FAIL_OPEN`)
  }
  if (policy !== undefined && failOpen !== undefined && (policy === 'FAIL_OPEN') !== failOpen && policy !== 'UNSPECIFIED') {
    policyAt.fail(`contradicts fail_open: ${failOpen}`)
  }
  const name = optString(o.name, at.child('name'))
  return {
    name: name !== undefined && name !== '' ? name : (root !== '' ? root : fallbackName),
    rootId: root,
    configuration: configurationBytes(o.configuration, at.child('configuration')),
    failOpen: policy === 'FAIL_OPEN' || failOpen === true,
    allowStopIteration: optBool(o.allow_on_headers_stop_iteration, at.child('allow_on_headers_stop_iteration')) ?? false,
    source: at.source,
    keyPrefix: at.key === '' ? '' : at.key + '.',
    vmKey: o.vmConfig !== undefined ? 'vmConfig' : 'vm_config',
    vm: await vmSpec(vm, vmAt)
  }
}

/** Finds the plugin map in a document: ATS `config:`, Envoy's filter wrapper, or a bare PluginConfig. */
function locate (doc: unknown, at: At): [unknown, At] {
  if (isObj(doc)) {
    if (doc.config !== undefined) {
      onlyKeys(doc, ['config'], at)
      return [doc.config, at.child('config')]
    }
    if (isObj(doc.typed_config)) {
      // An Envoy filter entry: keys we would ignore (disabled, ...) must not pass silently.
      onlyKeys(doc, ['name', 'typed_config'], at)
      const typedAt = at.child('typed_config')
      onlyKeys(doc.typed_config, ['@type', 'config'], typedAt)
      return [doc.typed_config.config, typedAt.child('config')]
    }
    return [doc, at]
  }
  at.fail(`expected a map with a top-level config key (ATS) or a PluginConfig, got ${typeOf(doc)}`)
}

async function fromFile (file: string, baseDir: string, index: number): Promise<PluginSpec[]> {
  const path = isAbsolute(file) ? file : resolve(baseDir, file)
  const label = `configs[${index}]`
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    throw new errors.File(`${label}: cannot read YAML file ${JSON.stringify(file)} (resolved to ${path}): ${describeFsError(err)}`)
  }
  let doc: unknown
  try {
    doc = YAML.parse(text, { prettyErrors: true, uniqueKeys: true })
  } catch (err) {
    throw new errors.Yaml(`${file}: not valid YAML: ${(err as Error).message}`)
  }
  const at = new At(file, dirname(path), '')
  if (doc === null || doc === undefined) at.fail('the file is empty; expected a top-level config key (ATS) or a PluginConfig')
  const fallback = basename(file, extname(file))
  // A file may hold a list of plugins.
  if (Array.isArray(doc)) {
    if (doc.length === 0) at.fail('the file holds an empty list; expected at least one plugin')
    return Promise.all(doc.map((d, i) => {
      const [v, a] = locate(d, at.child(String(i)))
      return pluginSpec(v, a, `${fallback}-${i}`)
    }))
  }
  const [v, a] = locate(doc, at)
  return [await pluginSpec(v, a, fallback)]
}

/**
 * Reads every entry of the `configs` option: YAML file paths (relative to
 * `baseDir`) or configuration objects. Throws coded errors that name the
 * file, the key and what was expected.
 */
export async function loadConfigs (configs: unknown, baseDir: string): Promise<PluginSpec[]> {
  if (configs === undefined) return []
  if (!Array.isArray(configs)) throw new errors.InvalidConfig(`options.configs: expected a list of YAML file paths or configuration objects, got ${typeOf(configs)}`)
  const specs: PluginSpec[] = []
  for (let i = 0; i < configs.length; i++) {
    const entry = configs[i]
    if (typeof entry === 'string') {
      if (entry === '') throw new errors.InvalidConfig(`configs[${i}]: expected a YAML file path, got an empty string`)
      specs.push(...await fromFile(entry, baseDir, i))
    } else if (isObj(entry)) {
      const at = new At(`configs[${i}]`, baseDir, '')
      const [v, a] = locate(entry, at)
      specs.push(await pluginSpec(v, a, `plugin-${i}`))
    } else {
      throw new errors.InvalidConfig(`configs[${i}]: expected a YAML file path or a configuration object, got ${typeOf(entry)}`)
    }
  }
  const seen = new Map<string, PluginSpec>()
  for (const s of specs) {
    const prev = seen.get(s.name)
    if (prev !== undefined) {
      throw new errors.InvalidConfig(`${s.source}: ${s.keyPrefix}name: ${JSON.stringify(s.name)} is already the name of a filter from ${prev.source}; routes select filters by name, so names must be unique`)
    }
    seen.set(s.name, s)
  }
  return specs
}
