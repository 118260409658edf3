import { test } from 'tap'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { buildApp, filter, type logCapture } from './helpers/app'
import { wat } from './helpers/fixtures'

// buf-probe logs "<phase> get <type> <start> <max> -> <status> <hex>[@0][ alloc]" and similar lines.
const hex = (s: string) => Buffer.from(s).toString('hex')
const U32_MAX = 4294967295

function lines (logs: ReturnType<typeof logCapture>, name: string, phase: string): string[] {
  return logs.filterMessages(name).filter(m => m.startsWith(phase + ' '))
}

/** The one line of `phase` that starts with `prefix + ' -> '`, without the prefix. */
function result (logs: ReturnType<typeof logCapture>, name: string, phase: string, prefix: string): string {
  const head = `${phase} ${prefix} -> `
  const found = logs.filterMessages(name).filter(m => m.startsWith(head))
  if (found.length !== 1) throw new Error(`expected one ${JSON.stringify(head)} line, got ${found.length}: ${logs.filterMessages(name).join(' | ')}`)
  return found[0].slice(head.length)
}

async function until (cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (cond()) return
    await new Promise(resolve => setTimeout(resolve, 5))
  }
  throw new Error(`timed out waiting for ${what}`)
}

test('configuration buffers: edges of proxy_get_buffer_bytes / _status / set on VmConfiguration(6) and PluginConfiguration(7)', async t => {
  const vmConfig = 'vm-configuration'
  const pluginConfig = 'plugin-config'
  const { app, logs } = await buildApp(t, { configs: [filter('b', wat('buf-probe'), { configuration: pluginConfig }, { configuration: vmConfig })] })
  await app.ready()
  for (const [phase, type, config] of [['vm', 6, vmConfig], ['cfg', 7, pluginConfig]] as const) {
    const n = config.length
    const r = (p: string) => result(logs, 'b', phase, p)
    t.same(lines(logs, 'b', phase)[0], `${phase} size ${n}`, `${phase}: the size argument is the configuration's length`)
    t.equal(r(`get ${type} 0 ${U32_MAX}`), `0 ${hex(config)} alloc`, 'max_size u32 max reads it all')
    t.equal(r(`get ${type} 0 ${n}`), `0 ${hex(config)} alloc`)
    t.equal(r(`get ${type} 2 3`), `0 ${hex(config.slice(2, 5))} alloc`, 'a slice')
    t.equal(r(`get ${type} ${n - 2} 100`), `0 ${hex(config.slice(n - 2))} alloc`, 'start+length is clamped to the end')
    t.equal(r(`get ${type} ${n} 10`), '0 @0', 'start at the end: Ok, (0,0), no allocation')
    t.equal(r(`get ${type} ${n + 5} 10`), '0 @0', 'start past the end: Ok, (0,0)')
    t.equal(r(`get ${type} 0 0`), '0 @0', 'max_size 0: Ok, (0,0) without calling malloc')
    t.equal(r(`get ${type} 1 ${U32_MAX}`), `0 ${hex(config.slice(1))} alloc`, 'start 1 + u32 max does not overflow into BadArgument')
    t.equal(r(`get ${type} ${U32_MAX} ${U32_MAX}`), '0 @0')
    t.equal(r(`get-bad-ptr ${type}`), '6', 'out-of-bounds result pointer')
    t.equal(r(`status ${type}`), `0 ${n} 0`, 'status: length and flags 0')
    t.equal(r(`status-bad-ptr ${type}`), '6')
    t.equal(r(`set ${type}`), '2', 'configurations are read-only')
    t.equal(r('get 9 0 10'), '2', 'unknown buffer type 9')
    t.equal(r(`get ${U32_MAX} 0 10`), '2', 'buffer type -1')
    t.equal(r('status 9'), '2')
    t.equal(r('set 9'), '2')
  }
  t.equal(result(logs, 'b', 'vm', `get 7 0 ${U32_MAX}`), '1', 'no plugin configuration in on_vm_start')
  t.equal(result(logs, 'b', 'vm', 'status 7'), '1')
  t.equal(result(logs, 'b', 'cfg', `get 6 0 ${U32_MAX}`), `0 ${hex(vmConfig)} alloc`, 'the VM configuration is readable in on_configure')
})

test('outside on_configure the plugin configuration is NotFound; request bodies are not available in on_request_headers', async t => {
  const { app, logs } = await buildApp(t, { configs: [filter('b', wat('buf-probe'), { configuration: 'pc' }, { configuration: 'vc' })] })
  app.get('/', async () => 'ok')
  await app.ready()
  await until(() => logs.filterMessages('b').includes('tick done'), 'the tick')
  t.equal(result(logs, 'b', 'tick', `get 7 0 ${U32_MAX}`), '1', 'on_tick: plugin configuration NotFound')
  t.equal(result(logs, 'b', 'tick', 'status 7'), '1')
  t.equal(result(logs, 'b', 'tick', `get 6 0 ${U32_MAX}`), `0 ${hex('vc')} alloc`, 'the VM configuration stays readable')
  const res = await app.inject('/')
  t.equal(res.statusCode, 200)
  const r = (p: string) => result(logs, 'b', 'req', p)
  t.equal(r(`get 0 0 ${U32_MAX}`), '1', 'HttpRequestBody in on_request_headers: NotFound')
  t.equal(r('status 0'), '1')
  t.equal(r('set 0'), '1')
  t.equal(r(`get 1 0 ${U32_MAX}`), '1', 'HttpResponseBody: NotFound')
  t.equal(r(`get 7 0 ${U32_MAX}`), '1', 'plugin configuration: NotFound')
  t.equal(r('set 7'), '1')
  t.equal(r(`get 6 0 ${U32_MAX}`), `0 ${hex('vc')} alloc`)
  t.equal(r('set 6'), '2', 'the VM configuration is read-only')
  t.equal(r('get 9 0 10'), '2')
})

test('configuration forms: text, a YAML map as JSON, Envoy\'s StringValue/Struct wrappers; sizes are byte lengths', async t => {
  const dir = t.testdir({})
  const yamlFile = join(dir, 'plugin.yaml')
  writeFileSync(yamlFile, [
    'config:',
    '  name: yamlmap',
    '  configuration:',
    '    b: 1',
    '    a: [x, 2, true]',
    '    nested: { k: null }',
    '  vm_config:',
    '    vm_id: yamlmap',
    '    configuration: "héllo"',
    '    code:',
    '      local:',
    `        filename: ${JSON.stringify(wat('buf-probe'))}`
  ].join('\n'))
  const { app, logs } = await buildApp(t, {
    configs: [
      yamlFile,
      filter('wrapped', wat('buf-probe'),
        { configuration: { '@type': 'type.googleapis.com/google.protobuf.StringValue', value: 'wrapped text' } },
        { configuration: { '@type': 'type.googleapis.com/google.protobuf.Struct', value: { z: 'last', y: [1] } } }),
      filter('empty', wat('buf-probe'))
    ]
  })
  await app.ready()
  const json = '{"b":1,"a":["x",2,true],"nested":{"k":null}}'
  t.equal(result(logs, 'yamlmap', 'cfg', `get 7 0 ${U32_MAX}`), `0 ${hex(json)} alloc`, 'a YAML map arrives as JSON text')
  t.equal(lines(logs, 'yamlmap', 'cfg')[0], `cfg size ${json.length}`)
  t.equal(result(logs, 'yamlmap', 'vm', `get 6 0 ${U32_MAX}`), `0 ${hex('héllo')} alloc`, 'text as UTF-8 bytes')
  t.equal(lines(logs, 'yamlmap', 'vm')[0], 'vm size 6', 'the size is in bytes')
  t.equal(result(logs, 'wrapped', 'cfg', `get 7 0 ${U32_MAX}`), `0 ${hex('wrapped text')} alloc`, 'StringValue: the raw value')
  t.equal(result(logs, 'wrapped', 'vm', `get 6 0 ${U32_MAX}`), `0 ${hex('{"z":"last","y":[1]}')} alloc`, 'Struct: JSON')
  t.equal(lines(logs, 'empty', 'vm')[0], 'vm size 0')
  t.equal(lines(logs, 'empty', 'cfg')[0], 'cfg size 0')
  t.equal(result(logs, 'empty', 'cfg', `get 7 0 ${U32_MAX}`), '0 @0', 'an empty configuration reads as Ok (0,0)')
  t.equal(result(logs, 'empty', 'cfg', 'status 7'), '0 0 0')
})

test('ABI 0.1.0: proxy_get_configuration is the VM configuration in on_vm_start, the plugin\'s in on_configure', async t => {
  const { app, logs } = await buildApp(t, {
    configs: [filter('old', wat('buf-config-010'), { configuration: { key: 'plugin' } }, { configuration: 'the vm one' })]
  })
  await app.ready()
  t.same(logs.filterMessages('old'), [
    'vm size=10 -> 0 the vm one',
    'vm bad-ptr -> 6',
    'cfg size=16 -> 0 {"key":"plugin"}',
    'cfg bad-ptr -> 6'
  ])
})
