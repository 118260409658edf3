import { test } from 'tap'
import Fastify from 'fastify'
import { execFile } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import proxyWasm, { type ProxyWasmOptions } from '../index'
import { buildApp, filter, logCapture } from './helpers/app'
import { wat } from './helpers/fixtures'

type CodedError = Error & { code?: string }
type Teardown = { teardown: (fn: () => unknown) => void }

/** Registers the plugin; returns the error app.ready() rejects with and the logs. */
async function loadError (t: Teardown, options: ProxyWasmOptions) {
  const logs = logCapture()
  const app = Fastify({ logger: { level: 'trace', stream: logs.stream } })
  t.teardown(() => app.close())
  app.register(proxyWasm, options)
  const err = await app.ready().then(() => undefined, (e: CodedError) => e)
  if (err === undefined) throw new Error('expected the load to fail')
  return { err, logs }
}

const sequence = (msgs: string[]) => msgs.filter(m => m.startsWith('sequence: '))

test('start code: start section, _initialize, then main(0,0); not __main_void nor _start', async t => {
  const { app, logs } = await buildApp(t, { configs: [filter('f', wat('vm-init-order'))] })
  await app.ready()
  // W start section, I _initialize, M main (a "!" would mean arguments other than 0,0).
  t.same(sequence(logs.filterMessages('f')), ['sequence: WIM'])
})

test('start code: _initialize then __main_void when there is no main', async t => {
  const { app, logs } = await buildApp(t, { configs: [filter('f', wat('vm-init-main-void'))] })
  await app.ready()
  t.same(sequence(logs.filterMessages('f')), ['sequence: IV'])
})

test('start code: _start when _initialize is absent (and then neither main nor __main_void)', async t => {
  const { app, logs } = await buildApp(t, { configs: [filter('f', wat('vm-init-command'))] })
  await app.ready()
  t.same(sequence(logs.filterMessages('f')), ['sequence: S'])
})

test('a start section runs at instantiation; its effect is visible to callbacks', async t => {
  const { app, logs } = await buildApp(t, { configs: [filter('f', wat('vm-start-section'))] })
  await app.ready()
  t.ok(logs.filterMessages('f').includes('start section ran'))
})

test('a start section that traps fails the load', async t => {
  const { err } = await loadError(t, { configs: [filter('f', wat('bad-start-trap'))] })
  t.equal(err.code, 'FST_PROXY_WASM_START')
  t.match(err.message, `configs[0]: vm_config.code: ${wat('bad-start-trap')}: `)
  t.match(err.message, /start function failed: wasm trap: unreachable/)
})

test('_start calling proc_exit(0) has simply finished: the filter loads', async t => {
  const { app, logs } = await buildApp(t, { configs: [filter('f', wat('vm-exit-0'))] })
  await app.ready()
  // S before proc_exit; X after it must not run.
  t.same(sequence(logs.filterMessages('f')), ['sequence: S'])
  t.equal(app.proxyWasm.stats()[0].failed, false)
})

test('_start calling proc_exit(1) fails the load', async t => {
  const { err } = await loadError(t, { configs: [filter('f', wat('bad-exit-1'))] })
  t.equal(err.code, 'FST_PROXY_WASM_START')
  t.match(err.message, wat('bad-exit-1'))
  t.match(err.message, /_start failed: .*proc_exit\(1\)/)
})

test('restricted calls while the module starts', async t => {
  t.test('a start section calling proxy_set_tick_period_milliseconds fails the load', async t => {
    const { err } = await loadError(t, { configs: [filter('f', wat('bad-restricted-start-section'))] })
    t.equal(err.code, 'FST_PROXY_WASM_START')
    t.match(err.message, /restricted_callback: proxy_set_tick_period_milliseconds/)
  })
  t.test('_initialize calling proxy_set_tick_period_milliseconds fails the load', async t => {
    const { err } = await loadError(t, { configs: [filter('f', wat('bad-restricted-initialize'))] })
    t.equal(err.code, 'FST_PROXY_WASM_START')
    t.match(err.message, /_initialize failed: .*restricted_callback: proxy_set_tick_period_milliseconds/)
  })
  t.test('_initialize may log, through proxy_log and WASI stderr', async t => {
    const { app, logs } = await buildApp(t, { configs: [filter('f', wat('vm-start-log'))] })
    await app.ready()
    const lines = logs.lines.filter(l => l.filter === 'f')
    t.match(lines, [
      { level: 40, context: 0, msg: 'hello from _initialize' },
      { level: 50, context: 0, msg: 'stderr from _initialize' }
    ])
  })
})

test('a malloc that calls proxy_done: the hostcall answers InvalidMemoryAccess and the VM fails', async t => {
  const { err, logs } = await loadError(t, { configs: [filter('f', wat('vm-malloc-done'), { configuration: 'x' })] })
  t.ok(logs.filterMessages('f').includes('get_buffer_bytes status 6'), 'proxy_get_buffer_bytes returned InvalidMemoryAccess (6)')
  t.equal(err.code, 'FST_PROXY_WASM_START')
  t.match(err.message, /restricted_callback: proxy_done may not be called during memory allocation/)
  t.ok(logs.lines.some(l => l.level === 50 && /VM of f failed in malloc/.test(l.msg)), 'the failure is logged')
})

test('root start failures name the key, the callback and the filter\'s last error line', async t => {
  const cases: { what: string, extra: Record<string, unknown>, vm: Record<string, unknown>, key: string, reason: RegExp, logged?: string }[] = [
    {
      what: 'on_vm_start returns false',
      extra: {},
      vm: { configuration: 'fail' },
      key: 'vm_config.configuration',
      reason: /proxy_on_vm_start returned false/,
      logged: 'vm_start: rejecting the VM configuration'
    },
    { what: 'on_vm_start traps', extra: {}, vm: { configuration: 'trap' }, key: 'vm_config.configuration', reason: /proxy_on_vm_start trapped: wasm trap: unreachable/ },
    {
      what: 'on_configure returns false',
      extra: { configuration: 'fail' },
      vm: {},
      key: 'configuration',
      reason: /proxy_on_configure returned false/,
      logged: 'configure: rejecting the configuration'
    },
    { what: 'on_configure traps', extra: { configuration: 'trap' }, vm: {}, key: 'configuration', reason: /proxy_on_configure trapped: wasm trap: unreachable/ },
    {
      what: 'on_context_create traps',
      extra: { configuration: 'Crash' },
      vm: {},
      key: 'root_id',
      reason: /proxy_on_context_create trapped: wasm trap: unreachable/,
      logged: 'context_create: refusing to start'
    }
  ]
  for (const c of cases) {
    const { err } = await loadError(t, { configs: [filter('starter', wat('vm-start-fail'), c.extra, c.vm)] })
    t.equal(err.code, 'FST_PROXY_WASM_START', c.what)
    t.ok(err.message.startsWith(`configs[0]: ${c.key}: filter "starter"`), `${c.what}: names the key (${err.message.split('\n')[0]})`)
    t.match(err.message, c.reason, c.what)
    if (c.logged !== undefined) t.match(err.message, `(the filter logged: ${c.logged})`, `${c.what}: quotes the log line`)
    else t.notMatch(err.message, /the filter logged/, `${c.what}: quotes nothing when nothing was logged`)
  }
})

test('a start failure in a YAML file names the file and the config. key path', async t => {
  const dir = t.testdir({
    'f.yaml': `config:\n  name: y\n  configuration: fail\n  vm_config:\n    code:\n      local:\n        filename: ${wat('vm-start-fail')}\n`
  })
  const { err } = await loadError(t, { configs: ['f.yaml'], baseDir: dir })
  t.equal(err.code, 'FST_PROXY_WASM_START')
  t.ok(err.message.startsWith('f.yaml: config.configuration: filter "y"'), err.message)
})

test('plugins with the same vm_id and code share one VM, each with its own root context', async t => {
  const { app, logs } = await buildApp(t, {
    configs: [
      filter('one', wat('vm-config-echo'), { configuration: 'c1' }, { vm_id: 'shared', configuration: 'vmc' }),
      filter('two', wat('vm-config-echo'), { configuration: 'c2' }, { vm_id: 'shared', configuration: 'vmc' }),
      filter('three', wat('vm-config-echo'), {}, { vm_id: 'other', configuration: 'vmc' })
    ]
  })
  await app.ready()
  t.same(app.proxyWasm.stats().map(s => [s.vmId, s.plugins]), [['shared', ['one', 'two']], ['other', ['three']]])
  const starts = (name: string) => logs.filterMessages(name).filter(m => m.startsWith('vm_start '))
  // on_vm_start once per root context; ids are distinct within the shared VM.
  t.same(starts('one'), ['vm_start root=1 size=3 config=vmc env='])
  t.same(starts('two'), ['vm_start root=2 size=3 config=vmc env='])
  t.same(starts('three'), ['vm_start root=1 size=3 config=vmc env='], 'a separate VM numbers its contexts from 1')
  t.ok(logs.filterMessages('one').includes('configure root=1 name=one root_id=one vm_id=shared size=2 config=c1'))
  t.ok(logs.filterMessages('two').includes('configure root=2 name=two root_id=two vm_id=shared size=2 config=c2'))
})

test('a different VM configuration or environment gets its own VM', async t => {
  const { app } = await buildApp(t, {
    configs: [
      filter('a', wat('vm-config-echo'), {}, { vm_id: 'v', configuration: 'x' }),
      filter('b', wat('vm-config-echo'), {}, { vm_id: 'v', configuration: 'y' }),
      filter('c', wat('vm-config-echo'), {}, { vm_id: 'v', configuration: 'y', environment_variables: { key_values: { K: 'V' } } })
    ]
  })
  await app.ready()
  t.same(app.proxyWasm.stats().map(s => s.plugins), [['a'], ['b'], ['c']])
})

test('after a failed load no filter timer keeps running', async t => {
  // Control: once loaded, the "K" filter does tick.
  const good = await buildApp(t, { configs: [filter('ticking', wat('vm-start-fail'), { configuration: 'K' })] })
  await good.app.ready()
  while (!good.logs.lines.some(l => l.msg === 'tick')) await new Promise(resolve => setTimeout(resolve, 5))
  await good.app.close()

  const { logs } = await loadError(t, {
    configs: [
      // Starts a 1 ms timer and loads.
      filter('ticking', wat('vm-start-fail'), { configuration: 'K' }),
      // Starts a 1 ms timer, then rejects its configuration.
      filter('broken', wat('vm-start-fail'), { configuration: 'k' })
    ]
  })
  const ticks = () => logs.lines.filter(l => l.msg === 'tick').length
  const before = ticks()
  await new Promise(resolve => setTimeout(resolve, 50))
  t.equal(ticks(), before, 'no tick after the load failed')
})

test('a process whose filters fail to load exits on its own', async t => {
  const dir = t.testdir()
  const script = join(dir, 'child.ts')
  writeFileSync(script, `
import Fastify from 'fastify'
import proxyWasm from ${JSON.stringify(join(__dirname, '..', 'index'))}
const app = Fastify()
app.register(proxyWasm, { configs: [
  { name: 'ticking', vm_config: { code: { local: { filename: ${JSON.stringify(wat('vm-start-fail'))} } } }, configuration: 'K' },
  { name: 'broken', vm_config: { code: { local: { filename: ${JSON.stringify(wat('vm-start-fail'))} } } }, configuration: 'k' }
] })
app.ready().catch((err: any) => { console.log(err.code) })
`)
  const tsImport = process.execArgv.find(a => a.includes('@tapjs/typescript'))
  const args = tsImport === undefined ? [script] : [tsImport, script]
  // The timeout only guards the suite; the child is expected to end at once.
  const { stdout } = await promisify(execFile)(process.execPath, args, { timeout: 30000, cwd: join(__dirname, '..') })
  t.equal(stdout.trim(), 'FST_PROXY_WASM_START')
})
