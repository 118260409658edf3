import { test } from 'tap'
import Fastify from 'fastify'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import proxyWasm, { type ProxyWasmOptions } from '../index'
import { buildApp, filter } from './helpers/app'
import { FIXTURES, wat } from './helpers/fixtures'

type CodedError = Error & { code?: string }
type Teardown = { teardown: (fn: () => unknown) => void }

const yamlFixture = (name: string) => join(FIXTURES, 'yaml', name)
const ECHO = wat('vm-config-echo')

/** Registers the plugin and returns the error app.ready() rejects with. */
async function loadError (t: Teardown, options: ProxyWasmOptions | Record<string, unknown>): Promise<CodedError> {
  const app = Fastify({ logger: { level: 'silent' } })
  t.teardown(() => app.close())
  app.register(proxyWasm, options as ProxyWasmOptions)
  const err = await app.ready().then(() => undefined, (e: CodedError) => e)
  if (err === undefined) throw new Error('expected the load to fail')
  return err
}

/** Loads `options`; returns the app and what vm-config-echo reported per filter. */
async function echo (t: Teardown, options: ProxyWasmOptions) {
  const { app, logs } = await buildApp(t, options)
  await app.ready()
  const line = (name: string, prefix: string) => logs.filterMessages(name).find(m => m.startsWith(prefix))
  return {
    app,
    logs,
    configure: (name: string) => line(name, 'configure '),
    vmStart: (name: string) => line(name, 'vm_start ')
  }
}

/** A YAML file in a fresh folder; returns its folder. */
function yamlDir (t: { testdir: (files: Record<string, string>) => string }, text: string): string {
  return t.testdir({ 'f.yaml': text })
}

/** An ATS YAML around `inner` (lines under `config:`, indented by the caller). */
function ats (inner: string): string {
  return `config:\n${inner}`
}

/** What vm-config-echo logs in on_configure. */
function configured (root: number, name: string, rootId: string, vmId: string, config: string): string {
  return `configure root=${root} name=${name} root_id=${rootId} vm_id=${vmId} size=${Buffer.byteLength(config)} config=${config}`
}

/** What vm-config-echo logs in on_vm_start. */
function started (root: number, config: string, env = ''): string {
  return `vm_start root=${root} size=${Buffer.byteLength(config)} config=${config} env=${env}`
}

const CODE = `    code:\n      local:\n        filename: ${ECHO}\n`

test('an ATS YAML file: every key the ATS plugin reads', async t => {
  process.env.PROXY_WASM_TEST_HOST_VAR = 'from-host'
  delete process.env.PROXY_WASM_TEST_UNSET_VAR
  t.teardown(() => { delete process.env.PROXY_WASM_TEST_HOST_VAR })
  const r = await echo(t, { configs: [yamlFixture('ats.yaml')] })
  t.same(r.app.proxyWasm.filters, ['ats-echo'])
  t.equal(r.configure('ats-echo'), configured(1, 'ats-echo', 'ats-root', 'ats-vm', '{"rules": ["deny perl"]}\n'))
  // host_env_keys copies set variables only; key_values scalars are text.
  t.equal(r.vmStart('ats-echo'), started(1, 'vm settings', 'PROXY_WASM_TEST_HOST_VAR=from-host;MODE=strict;LEVEL=3;'))
})

test('an ATS YAML file in camelCase with quoted values (the shipped tinygo example)', async t => {
  const r = await echo(t, { configs: [yamlFixture('ats-camel.yaml')] })
  t.same(r.app.proxyWasm.filters, ['coraza-filter'])
  t.equal(r.configure('coraza-filter'), configured(1, 'coraza-filter', 'test', 'coraza-filter_vm_id', '{\n  "rules": ["SecRuleEngine On"]\n}\n'))
})

test('Envoy PluginConfig, bare: Struct configuration as JSON, StringValue VM configuration', async t => {
  const r = await echo(t, { configs: [yamlFixture('envoy-plugin.yaml')] })
  t.equal(r.configure('envoy-echo'), configured(1, 'envoy-echo', 'envoy-root', 'envoy-vm', '{"header":"x-envoy","allow":["a","b"]}'))
  t.equal(r.vmStart('envoy-echo'), started(1, 'vm from a StringValue'))
})

test('Envoy http filter entry: the PluginConfig in typed_config.config, BytesValue configuration', async t => {
  const r = await echo(t, { configs: [yamlFixture('envoy-http-filter.yaml')] })
  t.equal(r.configure('envoy-filter-echo'), configured(1, 'envoy-filter-echo', 'filter-root', 'filter-vm', 'bytes from base64'))
})

test('a YAML file holding a list of plugins', async t => {
  const r = await echo(t, { configs: [yamlFixture('list.yaml')] })
  t.same(r.app.proxyWasm.filters, ['first', 'second'])
  t.equal(r.configure('first'), configured(1, 'first', '', 'listed', 'one'))
  t.equal(r.configure('second'), configured(2, 'second', '', 'listed', '[1,"two"]'))
  t.same(r.app.proxyWasm.stats().map(s => s.plugins), [['first', 'second']], 'same vm_id and code: one VM')
})

test('configuration values as the filter receives them in on_configure', async t => {
  const cases: [string, unknown, string][] = [
    ['a string', 'plain text', 'plain text'],
    ['an empty string', '', ''],
    ['null', null, ''],
    ['a number', 42, '42'],
    ['a boolean', true, 'true'],
    ['a map', { a: { b: [1, null] } }, '{"a":{"b":[1,null]}}'],
    ['a list', ['x', 2], '["x",2]'],
    ['a StringValue', { '@type': 'type.googleapis.com/google.protobuf.StringValue', value: 'sv' }, 'sv'],
    ['a BytesValue', { '@type': 'type.googleapis.com/google.protobuf.BytesValue', value: Buffer.from('bv').toString('base64') }, 'bv'],
    ['a Struct', { '@type': 'type.googleapis.com/google.protobuf.Struct', value: { k: 'v' } }, '{"k":"v"}'],
    ['bytes', Buffer.from('raw bytes'), 'raw bytes']
  ]
  for (const [what, configuration, expected] of cases) {
    const r = await echo(t, { configs: [filter('c', ECHO, { configuration: configuration as string })] })
    t.equal(r.configure('c'), `configure root=1 name=c root_id=c vm_id=c size=${Buffer.byteLength(expected)} config=${expected}`, what)
  }
})

test('a YAML map or list as configuration reaches the filter as JSON text', async t => {
  const dir = yamlDir(t, ats(`  name: m\n  configuration:\n    rules:\n      - deny: perl\n    level: 3\n  vm_config:\n    configuration: [a, 1]\n${CODE}`))
  const r = await echo(t, { configs: ['f.yaml'], baseDir: dir })
  t.equal(r.configure('m'), configured(1, 'm', '', '', '{"rules":[{"deny":"perl"}],"level":3}'))
  t.equal(r.vmStart('m'), started(1, '["a",1]'))
})

test('code inline: inline_bytes (base64 text, YAML !!binary, bytes) and inline_string', async t => {
  const bytes = readFileSync(ECHO)
  const b64 = bytes.toString('base64')
  const dir = yamlDir(t, ats(`  name: y\n  vm_config:\n    code:\n      local:\n        inline_bytes: !!binary ${b64}\n`))
  const r = await echo(t, {
    baseDir: dir,
    configs: [
      'f.yaml',
      { name: 'b64', vm_config: { vm_id: 'b64', code: { local: { inline_bytes: b64 } } } },
      { name: 'buf', vm_config: { vm_id: 'buf', code: { local: { inline_bytes: bytes } } } },
      { name: 'str', vm_config: { vm_id: 'str', code: { local: { inline_string: bytes.toString('latin1') } } } }
    ]
  })
  for (const name of ['y', 'b64', 'buf', 'str']) t.match(r.configure(name), `name=${name} `, name)
})

test('configuration objects: bare PluginConfig and ATS-shaped { config }', async t => {
  const r = await echo(t, {
    configs: [
      { name: 'bare', vm_config: { vm_id: 'x', code: { local: { filename: ECHO } } } },
      { config: { name: 'wrapped', rootId: 'r', vmConfig: { vmId: 'y', code: { local: { filename: ECHO } } } } }
    ]
  })
  t.match(r.configure('bare'), 'name=bare root_id= vm_id=x ')
  t.match(r.configure('wrapped'), 'name=wrapped root_id=r vm_id=y ')
})

test('names default to root_id, then the file name', async t => {
  const dir = t.testdir({
    'no-name.yaml': ats(`  root_id: the-root\n  vm_config:\n${CODE}`),
    'anonymous.yaml': ats(`  vm_config:\n${CODE}`)
  })
  const r = await echo(t, { configs: ['no-name.yaml', 'anonymous.yaml'], baseDir: dir })
  t.same(r.app.proxyWasm.filters, ['the-root', 'anonymous'])
})

test('relative paths: YAML files against baseDir, code in YAML against the YAML folder, code in objects against baseDir', async t => {
  const r = await echo(t, {
    baseDir: FIXTURES,
    configs: ['yaml/ats-camel.yaml', { name: 'obj', vm_config: { code: { local: { filename: 'wasm/vm-config-echo.wasm' } } } }]
  })
  t.same(r.app.proxyWasm.filters, ['coraza-filter', 'obj'])
})

test('fail_open: true, "true", false and "false"', async t => {
  const trap = wat('vm-trap-request')
  for (const [value, open] of [[true, true], ['true', true], [false, false], ['false', false]] as const) {
    const dir = yamlDir(t, ats(`  name: trap\n  fail_open: ${JSON.stringify(value)}\n  vm_config:\n    code:\n      local:\n        filename: ${trap}\n`))
    const { app } = await buildApp(t, { configs: ['f.yaml'], baseDir: dir }, { level: 'silent' })
    app.get('/', async () => 'handler ran')
    const res = await app.inject('/')
    if (open) {
      t.equal(res.statusCode, 200, `fail_open: ${JSON.stringify(value)} bypasses the failed filter`)
    } else {
      t.equal(res.statusCode, 503, `fail_open: ${JSON.stringify(value)} fails closed`)
      t.equal(res.json().code, 'FST_PROXY_WASM_VM_FAILED')
    }
  }
})

test('runtimes: v8, the ATS runtimes, empty and absent all run on Node', async t => {
  for (const runtime of ['envoy.wasm.runtime.v8', 'ats.wasm.runtime.wamr', 'ats.wasm.runtime.wasmtime', 'ats.wasm.runtime.wasmedge', '', undefined]) {
    const vm = runtime === undefined ? {} : { runtime }
    const r = await echo(t, { configs: [filter('rt', ECHO, {}, vm)] })
    t.ok(r.configure('rt'), `runtime ${JSON.stringify(runtime)} loads`)
  }
})

test('runtimes: the null runtime and unknown names fail naming vm_config.runtime', async t => {
  const nul = await loadError(t, { configs: [filter('rt', ECHO, {}, { runtime: 'envoy.wasm.runtime.null' })] })
  t.equal(nul.code, 'FST_PROXY_WASM_INVALID_CONFIG')
  t.match(nul.message, /^configs\[0\]: vm_config\.runtime: the null runtime/)
  const unknown = await loadError(t, { configs: [filter('rt', ECHO, {}, { runtime: 'ats.wasm.runtime.v9' })] })
  t.equal(unknown.code, 'FST_PROXY_WASM_INVALID_CONFIG')
  t.match(unknown.message, /^configs\[0\]: vm_config\.runtime: unknown runtime "ats\.wasm\.runtime\.v9"; expected envoy\.wasm\.runtime\.v8/)
})

test('YAML files that cannot be used', async t => {
  t.test('missing file', async t => {
    const dir = t.testdir({})
    const err = await loadError(t, { configs: ['missing.yaml'], baseDir: dir })
    t.equal(err.code, 'FST_PROXY_WASM_FILE')
    t.equal(err.message, `configs[0]: cannot read YAML file "missing.yaml" (resolved to ${join(dir, 'missing.yaml')}): no such file`)
  })
  t.test('a directory', async t => {
    const dir = t.testdir({ 'dir.yaml': {} })
    const err = await loadError(t, { configs: ['dir.yaml'], baseDir: dir })
    t.equal(err.code, 'FST_PROXY_WASM_FILE')
    t.match(err.message, /^configs\[0\]: cannot read YAML file "dir\.yaml" .*: it is a directory$/)
  })
  t.test('invalid YAML, with line information', async t => {
    const dir = yamlDir(t, 'config:\n  name: ok\n  root_id: a\n    bad: indentation\n')
    const err = await loadError(t, { configs: ['f.yaml'], baseDir: dir })
    t.equal(err.code, 'FST_PROXY_WASM_YAML')
    t.match(err.message, /^f\.yaml: not valid YAML: /)
    t.match(err.message, /at line 3, column 12/)
  })
  t.test('a key given twice', async t => {
    const dir = yamlDir(t, 'config:\n  name: a\n  name: b\n')
    const err = await loadError(t, { configs: ['f.yaml'], baseDir: dir })
    t.equal(err.code, 'FST_PROXY_WASM_YAML')
    t.match(err.message, /^f\.yaml: not valid YAML: .*unique/is)
  })
  for (const [what, text] of [['empty', ''], ['only a comment', '# nothing here\n']]) {
    t.test(`an ${what} file`, async t => {
      const err = await loadError(t, { configs: ['f.yaml'], baseDir: yamlDir(t, text) })
      t.equal(err.code, 'FST_PROXY_WASM_INVALID_CONFIG')
      t.match(err.message, /^f\.yaml: \(top level\): the file is empty; expected a top-level config key \(ATS\) or a PluginConfig/)
    })
  }
})

test('wrong shapes and types name the file, the key and what was expected', async t => {
  const cases: [string, string, string][] = [
    ['a scalar document', 'just text\n', 'f.yaml: (top level): expected a map with a top-level config key (ATS) or a PluginConfig, got string "just text"'],
    ['config is not a map', 'config: 42\n', 'f.yaml: config: expected a map, got number 42'],
    ['a list of scalars', '- a\n', 'f.yaml: 0: expected a map with a top-level config key (ATS) or a PluginConfig, got string "a"'],
    ['a key next to config', ats(`  name: a\n  vm_config:\n${CODE}`) + 'extra: 1\n', 'f.yaml: extra: unknown key; expected one of config'],
    ['name: []', ats(`  name: []\n  vm_config:\n${CODE}`), 'f.yaml: config.name: expected a string, got a list'],
    ['vm_id: {}', ats(`  vm_config:\n    vm_id: {}\n${CODE}`), 'f.yaml: config.vm_config.vm_id: expected a string, got a map'],
    ['vmId: {}', ats(`  vmConfig:\n    vmId: {}\n${CODE}`), 'f.yaml: config.vmConfig.vmId: expected a string, got a map'],
    ['root_id: [x]', ats(`  root_id: [x]\n  vm_config:\n${CODE}`), 'f.yaml: config.root_id: expected a string, got a list'],
    ['fail_open: "maybe"', ats(`  fail_open: "maybe"\n  vm_config:\n${CODE}`), 'f.yaml: config.fail_open: expected true or false, got string "maybe"'],
    ['allow_precompiled: 1', ats(`  vm_config:\n    allow_precompiled: 1\n${CODE}`), 'f.yaml: config.vm_config.allow_precompiled: expected true or false, got number 1'],
    ['runtime: []', ats(`  vm_config:\n    runtime: []\n${CODE}`), 'f.yaml: config.vm_config.runtime: expected a string, got a list'],
    ['vm_config: a string', ats('  vm_config: code.wasm\n'), 'f.yaml: config.vm_config: expected a map, got string "code.wasm"'],
    [
      'host_env_keys not a list',
      ats(`  vm_config:\n    environment_variables:\n      host_env_keys: HOME\n${CODE}`),
      'f.yaml: config.vm_config.environment_variables.host_env_keys: expected a list of variable names, got string "HOME"'
    ],
    [
      'a host_env_keys entry not a name',
      ats(`  vm_config:\n    environment_variables:\n      host_env_keys: [HOME, {a: 1}]\n${CODE}`),
      'f.yaml: config.vm_config.environment_variables.host_env_keys.1: expected a variable name, got a map'
    ],
    [
      'a key_values value that is a map',
      ats(`  vm_config:\n    environment_variables:\n      key_values:\n        K: {a: 1}\n${CODE}`),
      'f.yaml: config.vm_config.environment_variables.key_values.K: expected a string, got a map'
    ],
    [
      'key_values not a map',
      ats(`  vm_config:\n    environment_variables:\n      key_values: [K]\n${CODE}`),
      'f.yaml: config.vm_config.environment_variables.key_values: expected a map, got a list'
    ],
    [
      'a key in both host_env_keys and key_values',
      ats(`  vm_config:\n    environment_variables:\n      host_env_keys: [PROXY_WASM_TEST_BOTH]\n      key_values:\n        PROXY_WASM_TEST_BOTH: v\n${CODE}`),
      'f.yaml: config.vm_config.environment_variables.key_values.PROXY_WASM_TEST_BOTH: is also listed in host_env_keys; give each variable once'
    ],
    [
      'a key_values name with "="',
      ats(`  vm_config:\n    environment_variables:\n      key_values:\n        "A=B": v\n${CODE}`),
      'f.yaml: config.vm_config.environment_variables.key_values.A=B: expected a variable name: not empty, without "=" or NUL'
    ],
    [
      'an empty host_env_keys name',
      ats(`  vm_config:\n    environment_variables:\n      host_env_keys: [""]\n${CODE}`),
      'f.yaml: config.vm_config.environment_variables.host_env_keys.0: expected a variable name, got string ""'
    ],
    ['an empty list of plugins', '[]\n', 'f.yaml: (top level): the file holds an empty list; expected at least one plugin'],
    [
      'capability_restriction_config',
      ats(`  capability_restriction_config:\n    allowed_capabilities: [proxy_log]\n  vm_config:\n${CODE}`),
      'f.yaml: config.capability_restriction_config: not supported: every host function is available to filters; remove the key'
    ],
    [
      'an http filter entry with a key that would be ignored',
      `name: envoy.filters.http.wasm\ndisabled: true\ntyped_config:\n  config:\n    vm_config:\n${CODE.replace(/^/gm, '  ')}`,
      'f.yaml: disabled: unknown key; expected one of name, typed_config'
    ],
    ['an unknown key (rootid)', ats(`  rootid: x\n  vm_config:\n${CODE}`), 'f.yaml: config.rootid: unknown key; expected one of name, root_id, rootId,'],
    ['an unknown camelCase key (failOpen)', ats(`  failOpen: true\n  vm_config:\n${CODE}`), 'f.yaml: config.failOpen: unknown key;'],
    ['an unknown vm_config key', ats(`  vm_config:\n    vmid: x\n${CODE}`), 'f.yaml: config.vm_config.vmid: unknown key; expected one of vm_id, vmId, runtime,'],
    ['both root_id and rootId', ats(`  root_id: a\n  rootId: b\n  vm_config:\n${CODE}`), 'f.yaml: config.rootId: both root_id and rootId are set; use one'],
    ['both vm_config and vmConfig', ats(`  vmConfig: {}\n  vm_config:\n${CODE}`), 'f.yaml: config.vmConfig: both vm_config and vmConfig are set; use one'],
    ['missing vm_config', ats('  name: a\n'), 'f.yaml: config.vm_config: missing; expected a map with code.local.filename'],
    ['missing code', ats('  vm_config:\n    vm_id: a\n'), 'f.yaml: config.vm_config.code: missing; expected code.local.filename (or inline_string / inline_bytes)'],
    ['code without local', ats('  vm_config:\n    code: {}\n'), 'f.yaml: config.vm_config.code.local: expected a map, got nothing'],
    [
      'code with two sources',
      ats(`  vm_config:\n    code:\n      local:\n        filename: ${ECHO}\n        inline_bytes: AGFzbQ==\n`),
      'f.yaml: config.vm_config.code.local: expected exactly one of filename, inline_string, inline_bytes, got filename and inline_bytes'
    ],
    ['code with no source', ats('  vm_config:\n    code:\n      local: {}\n'), 'f.yaml: config.vm_config.code.local: expected exactly one of filename, inline_string, inline_bytes'],
    [
      'code.remote',
      ats('  vm_config:\n    code:\n      remote:\n        http_uri: {uri: "https://example.com/f.wasm"}\n'),
      'f.yaml: config.vm_config.code.remote: remote code is not supported; download the module and use code.local.filename'
    ],
    ['an empty filename', ats('  vm_config:\n    code:\n      local:\n        filename: ""\n'), 'f.yaml: config.vm_config.code.local.filename: expected a file name, got an empty string'],
    [
      'an unknown @type',
      ats(`  configuration:\n    "@type": type.googleapis.com/google.protobuf.Int32Value\n    value: 3\n  vm_config:\n${CODE}`),
      'f.yaml: config.configuration.@type: unsupported type "type.googleapis.com/google.protobuf.Int32Value"'
    ],
    [
      'a StringValue without a string',
      ats(`  configuration:\n    "@type": type.googleapis.com/google.protobuf.StringValue\n    value: [a]\n  vm_config:\n${CODE}`),
      'f.yaml: config.configuration.value: a StringValue needs a string value, got a list'
    ],
    [
      'an http filter without typed_config.config',
      'name: envoy.filters.http.wasm\ntyped_config:\n  "@type": type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm\n',
      'f.yaml: typed_config.config: expected a map, got nothing'
    ]
  ]
  for (const [what, text, expected] of cases) {
    const err = await loadError(t, { configs: ['f.yaml'], baseDir: yamlDir(t, text) })
    t.equal(err.code, 'FST_PROXY_WASM_INVALID_CONFIG', what)
    t.ok(err.message.startsWith(expected), `${what}: ${err.message}`)
  }
})

test('configuration: null is allowed and means empty', async t => {
  const dir = yamlDir(t, ats(`  name: n\n  configuration: null\n  vm_config:\n    configuration:\n${CODE}`))
  const r = await echo(t, { configs: ['f.yaml'], baseDir: dir })
  t.equal(r.configure('n'), configured(1, 'n', '', '', ''))
  t.equal(r.vmStart('n'), started(1, ''))
})

test('a missing .wasm file fails naming the key and the resolved path', async t => {
  const dir = yamlDir(t, ats('  vm_config:\n    code:\n      local:\n        filename: filters/missing.wasm\n'))
  const err = await loadError(t, { configs: ['f.yaml'], baseDir: dir })
  t.equal(err.code, 'FST_PROXY_WASM_FILE')
  t.equal(err.message, `f.yaml: config.vm_config.code.local.filename: cannot read "filters/missing.wasm" (resolved to ${join(dir, 'filters', 'missing.wasm')}): no such file`)
})

test('a bad module named by a YAML file names the file, the key and the module path', async t => {
  const dir = yamlDir(t, ats(`  vm_config:\n    code:\n      local:\n        filename: ${wat('bad-no-abi')}\n`))
  const err = await loadError(t, { configs: ['f.yaml'], baseDir: dir })
  t.equal(err.code, 'FST_PROXY_WASM_MODULE')
  t.ok(err.message.startsWith(`f.yaml: config.vm_config.code: ${wat('bad-no-abi')}: `), err.message)
})

test('errors in configuration objects name configs[i]', async t => {
  const err = await loadError(t, { configs: [filter('ok', ECHO), { name: 'x', vm_config: { vm_id: {}, code: { local: { filename: ECHO } } } }] })
  t.equal(err.code, 'FST_PROXY_WASM_INVALID_CONFIG')
  t.equal(err.message, 'configs[1]: vm_config.vm_id: expected a string, got a map')
  const wrapped = await loadError(t, { configs: [{ config: { name: [], vm_config: { code: { local: { filename: ECHO } } } } }] })
  t.equal(wrapped.message, 'configs[0]: config.name: expected a string, got a list')
  const big = await loadError(t, { configs: [filter('b', ECHO, { configuration: { n: 1n } })] })
  t.equal(big.code, 'FST_PROXY_WASM_INVALID_CONFIG')
  t.match(big.message, /^configs\[0\]: configuration: cannot be sent as JSON: .*BigInt/)
})

test('duplicate filter names fail naming both sources', async t => {
  const dir = yamlDir(t, ats(`  name: twin\n  vm_config:\n${CODE}`))
  const err = await loadError(t, { configs: ['f.yaml', filter('twin', ECHO)], baseDir: dir })
  t.equal(err.code, 'FST_PROXY_WASM_INVALID_CONFIG')
  t.equal(err.message, 'configs[1]: name: "twin" is already the name of a filter from f.yaml; routes select filters by name, so names must be unique')
})

test('options that are not a configuration', async t => {
  const notList = await loadError(t, { configs: 'f.yaml' })
  t.equal(notList.code, 'FST_PROXY_WASM_INVALID_CONFIG')
  t.equal(notList.message, 'options.configs: expected a list of YAML file paths or configuration objects, got string "f.yaml"')
  const empty = await loadError(t, { configs: [''] })
  t.equal(empty.message, 'configs[0]: expected a YAML file path, got an empty string')
  const entry = await loadError(t, { configs: [42] })
  t.equal(entry.code, 'FST_PROXY_WASM_INVALID_CONFIG')
  t.equal(entry.message, 'configs[0]: expected a YAML file path or a configuration object, got number 42')
})

test('route config.proxyWasm mistakes fail naming the route', async t => {
  for (const [value, expected] of [
    [['nope'], 'route GET /r: config.proxyWasm: unknown filter "nope"; configured filters: "echo"'],
    [42, 'route GET /r: config.proxyWasm: expected false, true, a filter name or a list of filter names, got 42'],
    [['echo', 7], 'route GET /r: config.proxyWasm: expected false, true, a filter name or a list of filter names, got ["echo",7]']
  ] as const) {
    const app = Fastify({ logger: { level: 'silent' } })
    t.teardown(() => app.close())
    await app.register(proxyWasm, { configs: [filter('echo', ECHO)] })
    let err: CodedError | undefined
    try {
      app.get('/r', { config: { proxyWasm: value as unknown as string[] } }, async () => 'x')
      await app.ready()
    } catch (e) {
      err = e as CodedError
    }
    t.equal(err?.code, 'FST_PROXY_WASM_ROUTE_CONFIG', JSON.stringify(value))
    t.equal(err?.message, expected)
  }
})
