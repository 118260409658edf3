import { test } from 'tap'
import Fastify from 'fastify'
import { join } from 'node:path'
import proxyWasm, { type ProxyWasmOptions } from '../index'
import { buildApp, filter, logCapture } from './helpers/app'
import { FIXTURES, wat } from './helpers/fixtures'

type CodedError = Error & { code?: string }
type Teardown = { teardown: (fn: () => unknown) => void }

const bad = (name: string) => join(FIXTURES, 'bad', name)

/** Registers the plugin and returns the error app.ready() rejects with. */
async function loadError (t: Teardown, options: ProxyWasmOptions): Promise<CodedError> {
  const logs = logCapture()
  const app = Fastify({ logger: { level: 'trace', stream: logs.stream } })
  t.teardown(() => app.close())
  app.register(proxyWasm, options)
  const err = await app.ready().then(() => undefined, (e: CodedError) => e)
  if (err === undefined) throw new Error('expected the load to fail')
  return err
}

/** The error loading one module file as filter `f` fails with. */
function moduleError (t: Teardown, filename: string): Promise<CodedError> {
  return loadError(t, { configs: [filter('f', filename)] })
}

test('files that are not Wasm modules fail with FST_PROXY_WASM_MODULE naming the file', async t => {
  const cases: [string, RegExp][] = [
    ['not-wasm.txt', /not a WebAssembly module/],
    ['random.bin', /not a WebAssembly module/],
    ['magic-then-garbage.wasm', /not a valid WebAssembly module/],
    ['truncated.wasm', /not a valid WebAssembly module/],
    ['empty.wasm', /empty \(0 bytes\)/]
  ]
  for (const [name, reason] of cases) {
    const err = await moduleError(t, bad(name))
    t.equal(err.code, 'FST_PROXY_WASM_MODULE', name)
    t.match(err.message, reason, name)
    t.ok(err.message.startsWith('configs[0]: vm_config.code: '), `${name}: names the config entry and key`)
    t.ok(err.message.includes(bad(name)), `${name}: names the file`)
  }
})

test('a module without an ABI version marker fails and names the markers it needs', async t => {
  const err = await moduleError(t, wat('bad-no-abi'))
  t.equal(err.code, 'FST_PROXY_WASM_MODULE')
  t.match(err.message, wat('bad-no-abi'))
  t.match(err.message, /exports no Proxy-Wasm ABI version/)
  t.match(err.message, /proxy_abi_version_0_1_0, proxy_abi_version_0_2_0, proxy_abi_version_0_2_1/)
})

test('the ABI version comes from the marker export', async t => {
  const { app } = await buildApp(t, {
    configs: [filter('v010', wat('vm-abi-010')), filter('v020', wat('vm-abi-020')), filter('v021', wat('vm-abi-021'))]
  })
  await app.ready()
  t.same(app.proxyWasm.stats().map(s => [s.plugins[0], s.abi]), [['v010', '0.1.0'], ['v020', '0.2.0'], ['v021', '0.2.1']])
})

test('with two ABI markers, the first in the export section wins', async t => {
  const { app } = await buildApp(t, {
    configs: [filter('first010', wat('vm-markers-010-first')), filter('first021', wat('vm-markers-021-first'))]
  })
  await app.ready()
  t.same(app.proxyWasm.stats().map(s => s.abi), ['0.1.0', '0.2.1'])
})

test('each ABI version links exactly its own imports', async t => {
  t.test('0.2.0 importing proxy_get_log_level fails: it belongs to 0.2.1', async t => {
    const err = await moduleError(t, wat('bad-020-log-level'))
    t.equal(err.code, 'FST_PROXY_WASM_MODULE')
    t.match(err.message, /env\.proxy_get_log_level/)
    t.match(err.message, /belongs to ABI 0\.2\.1/)
    t.match(err.message, /declares ABI 0\.2\.0/)
  })
  t.test('0.1.0 importing proxy_continue_stream fails: it belongs to 0.2.x', async t => {
    const err = await moduleError(t, wat('bad-010-continue-stream'))
    t.equal(err.code, 'FST_PROXY_WASM_MODULE')
    t.match(err.message, /env\.proxy_continue_stream/)
    t.match(err.message, /belongs to ABI 0\.2\.[01]/)
    t.match(err.message, /declares ABI 0\.1\.0/)
  })
  t.test('0.1.0 may import proxy_get_configuration, continue_request/response, clear_route_cache', async t => {
    const { app, logs } = await buildApp(t, { configs: [filter('v010', wat('vm-abi-010'), { configuration: 'cfg-010' })] })
    await app.ready()
    t.ok(logs.filterMessages('v010').includes('0.1.0 configuration: cfg-010'), 'proxy_get_configuration answers the plugin configuration')
  })
  t.test('0.2.1 may import proxy_get_log_level', async t => {
    const { app, logs } = await buildApp(t, { configs: [filter('v021', wat('vm-abi-021'))] }, { level: 'debug' })
    await app.ready()
    t.ok(logs.filterMessages('v021').includes('log level 1'), 'debug = 1')
  })
})

test('an allocator is required', async t => {
  const err = await moduleError(t, wat('bad-no-allocator'))
  t.equal(err.code, 'FST_PROXY_WASM_MODULE')
  t.match(err.message, /exports no allocator \(expected malloc or proxy_on_memory_allocate\)/)
})

test('proxy_on_memory_allocate alone is a usable allocator', async t => {
  const { app, logs } = await buildApp(t, { configs: [filter('a', wat('vm-alloc-proxy-only'), { configuration: 'via proxy_on_memory_allocate' })] })
  await app.ready()
  const msgs = logs.filterMessages('a')
  t.ok(msgs.includes('proxy_on_memory_allocate'), 'the host called it')
  t.ok(msgs.includes('configuration: via proxy_on_memory_allocate'), 'the bytes arrived in the memory it returned')
})

test('with both malloc and proxy_on_memory_allocate, malloc is used (as in proxy-wasm-cpp-host)', async t => {
  const { app, logs } = await buildApp(t, { configs: [filter('a', wat('vm-alloc-both'), { configuration: 'abc' })] })
  await app.ready()
  const msgs = logs.filterMessages('a')
  t.ok(msgs.includes('allocated by malloc'))
  t.notOk(msgs.includes('allocated by proxy_on_memory_allocate'))
  t.ok(msgs.includes('configuration: abc'))
})

test('an import with the wrong signature fails naming the import and both signatures', async t => {
  const err = await moduleError(t, wat('bad-import-signature'))
  t.equal(err.code, 'FST_PROXY_WASM_MODULE')
  t.match(err.message, /import env\.proxy_log has signature \(i32, i32\) -> \(i32\), the host provides \(i32, i32, i32\) -> \(i32\)/)
})

test('a callback export with the wrong signature for its ABI fails', async t => {
  const err020 = await moduleError(t, wat('bad-export-signature'))
  t.equal(err020.code, 'FST_PROXY_WASM_MODULE')
  t.match(err020.message, /export proxy_on_request_headers has signature \(i32, i32\) -> \(i32\), ABI 0\.2\.0 expects \(i32, i32, i32\) -> \(i32\)/)
  const err010 = await moduleError(t, wat('bad-export-signature-010'))
  t.equal(err010.code, 'FST_PROXY_WASM_MODULE')
  t.match(err010.message, /export proxy_on_response_headers has signature \(i32, i32, i32\) -> \(i32\), ABI 0\.1\.0 expects \(i32, i32\) -> \(i32\)/)
})

test('an import the host does not provide fails naming it', async t => {
  const err = await moduleError(t, wat('bad-unknown-import'))
  t.equal(err.code, 'FST_PROXY_WASM_MODULE')
  t.match(err.message, /missing import env\.foo: the host does not provide it/)
  t.notMatch(err.message, /belongs to ABI/)
})

test('an imported global fails', async t => {
  const err = await moduleError(t, wat('bad-import-global'))
  t.equal(err.code, 'FST_PROXY_WASM_MODULE')
  t.match(err.message, /env\.__stack_pointer/)
  t.match(err.message, /global/)
})

test('a module that imports its memory works', async t => {
  const { app, logs } = await buildApp(t, { configs: [filter('m', wat('vm-import-memory'), { configuration: 'in imported memory' })] })
  await app.ready()
  t.ok(logs.filterMessages('m').includes('configuration: in imported memory'))
  t.equal(app.proxyWasm.stats()[0].memoryBytes, 2 * 65536, 'the memory the host created, at the declared size')
})
