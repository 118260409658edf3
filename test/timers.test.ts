import { test } from 'tap'
import { execFile } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { buildApp, filter, type logCapture } from './helpers/app'
import { wat } from './helpers/fixtures'

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms))

async function until (cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    if (cond()) return
    await sleep(5)
  }
  throw new Error(`timed out waiting for ${what}`)
}

const tickLines = (logs: ReturnType<typeof logCapture>, name: string) => logs.lines.filter(l => l.filter === name && l.msg.startsWith('tick '))
const ticks = (logs: ReturnType<typeof logCapture>, name: string) => tickLines(logs, name).length

test('proxy_get_current_time_nanoseconds: wall-clock ns since the epoch, little-endian; bad pointers are 6', async t => {
  const { app } = await buildApp(t, { configs: [filter('time', wat('time-probe'))] })
  app.get('/', async () => 'ok')
  const before = BigInt(Date.now()) * 1_000_000n
  const res = await app.inject('/')
  const after = BigInt(Date.now()) * 1_000_000n
  t.equal(res.headers['x-time-status'], '0')
  const now = Buffer.from(res.headers['x-time'] as string, 'hex').readBigUInt64LE()
  // The host adds a monotonic offset to Date.now(): allow a few ms of skew.
  t.ok(now >= before - 5_000_000n && now <= after + 5_000_000n, `${now} is between ${before} and ${after}`)
  t.equal(res.headers['x-time-oob'], '6')
  t.equal(res.headers['x-time-straddle'], '6', '8 bytes must fit')
})

test('on_tick is called repeatedly on the root context with its id', async t => {
  const { app, logs } = await buildApp(t, { configs: [filter('tick', wat('time-tick'), { configuration: '5' })] })
  await app.ready()
  await until(() => ticks(logs, 'tick') >= 3, 'three ticks')
  const lines = tickLines(logs, 'tick')
  t.same(lines.slice(0, 3).map(l => l.msg), ['tick 1 root=1', 'tick 2 root=1', 'tick 3 root=1'])
  t.ok(lines.every(l => l.context === 1 && l.reqId === undefined), 'logged by the root context through the app logger')
})

test('a tick that sets the period to 0 stops the ticks', async t => {
  const { app, logs } = await buildApp(t, { configs: [filter('tick', wat('time-tick'), { configuration: '5,3' })] })
  await app.ready()
  await until(() => ticks(logs, 'tick') >= 3, 'three ticks')
  await sleep(80)
  t.equal(ticks(logs, 'tick'), 3, 'no tick after the third')
})

test('a stream context sets its root\'s period: 0 stops, a new period restarts, a long one replaces a short one', async t => {
  const { app, logs } = await buildApp(t, { configs: [filter('tick', wat('time-tick'), { configuration: '5' })] })
  app.get('/', async () => 'ok')
  await app.ready()
  await until(() => ticks(logs, 'tick') >= 2, 'two ticks')

  await app.inject({ url: '/', headers: { 'x-tick-period': '0' } })
  const stopped = ticks(logs, 'tick')
  await sleep(60)
  t.equal(ticks(logs, 'tick'), stopped, 'period 0 from a request stops the root\'s ticks')

  await app.inject({ url: '/', headers: { 'x-tick-period': '5' } })
  await until(() => ticks(logs, 'tick') >= stopped + 2, 'ticks again')
  t.ok(tickLines(logs, 'tick').every(l => l.msg.endsWith(' root=1')), 'on the root context, not the stream')

  await app.inject({ url: '/', headers: { 'x-tick-period': '60000' } })
  const replaced = ticks(logs, 'tick')
  await sleep(60)
  t.equal(ticks(logs, 'tick'), replaced, 'the 5 ms timer was replaced by the 60 s one')
  t.same(logs.filterMessages('tick').filter(m => m.startsWith('set ')), ['set 0 -> 0', 'set 5 -> 0', 'set 60000 -> 0'], 'always Ok')
})

test('ticks stop after app.close()', async t => {
  const { app, logs } = await buildApp(t, { configs: [filter('tick', wat('time-tick'), { configuration: '5' })] })
  await app.ready()
  await until(() => ticks(logs, 'tick') >= 2, 'two ticks')
  await app.close()
  const atClose = ticks(logs, 'tick')
  await sleep(60)
  t.equal(ticks(logs, 'tick'), atClose, 'no tick after close')
})

test('ticks do not keep the process alive', async t => {
  const dir = t.testdir()
  const script = join(dir, 'child.ts')
  // The child lets the filter tick for 100 ms, then returns without closing the app.
  writeFileSync(script, `
import Fastify from 'fastify'
import proxyWasm from ${JSON.stringify(join(__dirname, '..', 'index'))}
const app = Fastify({ logger: { level: 'info' } })
app.register(proxyWasm, { configs: [
  { name: 'ticking', vm_config: { code: { local: { filename: ${JSON.stringify(wat('time-tick'))} } } }, configuration: '5' }
] })
app.ready().then(() => new Promise(resolve => setTimeout(resolve, 100))).then(() => { console.log('main done') })
`)
  const tsImport = process.execArgv.find(a => a.includes('@tapjs/typescript'))
  const args = tsImport === undefined ? [script] : [tsImport, script]
  // The timeout only bounds the test: a child kept alive by the timer would be killed and fail it.
  const { stdout } = await promisify(execFile)(process.execPath, args, { timeout: 30000, cwd: join(__dirname, '..') })
  const out = stdout.trim().split('\n')
  t.ok(out.some(l => l.includes('"msg":"tick 1 root=1"')), 'the filter ticked in the child')
  // Reaching this line at all means the child exited by itself (a live timer would have hit the timeout).
  t.ok(out.includes('main done'), 'the child finished its own work and exited')
})
