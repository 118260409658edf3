import { test } from 'tap'
import { request as httpRequest } from 'node:http'
import type { AddressInfo } from 'node:net'
import { request } from 'undici'
import { buildApp, filter, type logCapture } from './helpers/app'
import { wat } from './helpers/fixtures'
import { Fn, Phase, Program, probe as hmProbe, runs, statusOf as opStatus, until as waitFor, v, Var } from './helpers/probe'

// The hdr-probe fixture runs the script in its configuration: "continue S",
// "close S", "effective ID" call the stream-control host functions, "ret N"
// sets the callback's return value; each command logs "<line> -> <status>".
type Logs = ReturnType<typeof logCapture>
const probe = (name: string, script: string[]) => filter(name, wat('hdr-probe'), { configuration: script.join('\n') })

function statusOf (logs: Logs, name: string, cmd: string): number {
  const line = logs.filterMessages(name).find(m => m.startsWith(`${cmd} -> `))
  if (line === undefined) throw new Error(`the probe did not run ${JSON.stringify(cmd)}; logged: ${logs.filterMessages(name).join(' | ')}`)
  return Number(line.slice(cmd.length + 4).split(' ')[0])
}

async function until (cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    if (cond()) return
    await new Promise(resolve => setTimeout(resolve, 5))
  }
  throw new Error(`timed out waiting for ${what}`)
}

async function listen (app: Awaited<ReturnType<typeof buildApp>>['app']): Promise<string> {
  await app.listen({ port: 0, host: '127.0.0.1' })
  return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
}

test('unknown stream types are BadArgument; the request goes on', async t => {
  const script = ['req continue 4', 'req close 4', 'req continue 4294967295', 'req close 4294967295', 'res continue 4', 'res close 4', 'res close 2147483648']
  const { app, logs } = await buildApp(t, { configs: [probe('p', script)] })
  app.get('/', async () => 'route')
  const res = await app.inject('/')
  t.equal(res.statusCode, 200)
  t.equal(res.body, 'route')
  for (const line of script) t.equal(statusOf(logs, 'p', line), 2, line)
})

test('close_stream in on_request_headers resets the connection; the route never runs; the stream still ends', async t => {
  const { app, logs } = await buildApp(t, { configs: [probe('p', ['req close 0'])] })
  let handled = 0
  app.get('/', async () => { handled++; return 'route' })
  const base = await listen(app)
  await t.rejects(request(`${base}/`), 'undici sees the socket close without a response')
  // node:http as well: no response, a reset.
  const err = await new Promise<NodeJS.ErrnoException>(resolve => {
    httpRequest(`${base}/`, () => resolve(new Error('got a response'))).on('error', resolve).end()
  })
  t.match(err.message, /socket hang up|ECONNRESET/)
  t.equal(handled, 0)
  t.equal(statusOf(logs, 'p', 'req close 0'), 0)
  await until(() => logs.filterMessages('p').filter(m => m === 'delete').length === 2, 'both streams to end')
  t.same(logs.filterMessages('p').filter(m => ['log', 'done', 'delete'].includes(m)), ['log', 'done', 'delete', 'log', 'done', 'delete'])
  t.equal(logs.filterMessages('p').filter(m => m.startsWith('res args')).length, 0, 'no response phase')
  t.equal(logs.lines.filter(l => l.msg === 'proxy-wasm: local reply').length, 0)
  t.equal(app.proxyWasm.stats()[0].streamContexts, 0)
})

test('the server stays up after a reset', async t => {
  const { app } = await buildApp(t, { configs: [probe('p', ['req close 0'])] })
  app.get('/closed', async () => 'route')
  app.get('/open', { config: { proxyWasm: false } }, async () => 'still here')
  const base = await listen(app)
  for (let i = 0; i < 3; i++) await t.rejects(request(`${base}/closed`))
  const ok = await request(`${base}/open`)
  t.equal(ok.statusCode, 200)
  t.equal(await ok.body.text(), 'still here')
})

test('close_stream of the response type in the request phase resets too', async t => {
  const { app } = await buildApp(t, { configs: [probe('p', ['req close 1'])] })
  let handled = 0
  app.get('/', async () => { handled++; return 'route' })
  const base = await listen(app)
  await t.rejects(request(`${base}/`))
  t.equal(handled, 0)
})

test('close_stream in on_response_headers resets after the route ran', async t => {
  const { app, logs } = await buildApp(t, { configs: [probe('p', ['res close 1'])] })
  let handled = 0
  app.get('/', async () => { handled++; return 'route' })
  const base = await listen(app)
  await t.rejects(request(`${base}/`))
  t.equal(handled, 1)
  await until(() => logs.filterMessages('p').includes('delete'), 'the stream to end')
  t.equal(statusOf(logs, 'p', 'res close 1'), 0)
})

test('continue_stream in the callback that stops: the stream goes on', async t => {
  const { app, logs } = await buildApp(t, {
    configs: [probe('p', ['req ret 1', 'req continue 0', 'req add 0 x-continued yes', 'res ret 1', 'res continue 1', 'res add 2 x-res yes'])]
  })
  app.get('/', async req => req.headers['x-continued'])
  const res = await app.inject('/')
  t.equal(res.statusCode, 200)
  t.equal(res.body, 'yes')
  t.equal(res.headers['x-res'], 'yes')
  t.equal(statusOf(logs, 'p', 'req continue 0'), 0)
  t.equal(statusOf(logs, 'p', 'res continue 1'), 0)
})

test('continue_stream and close_stream in on_log: Ok, nothing happens', async t => {
  const { app, logs } = await buildApp(t, { configs: [probe('p', ['log continue 0', 'log close 0', 'log close 1', 'done close 0'])] })
  app.get('/', async () => 'route')
  const base = await listen(app)
  const res = await request(`${base}/`)
  t.equal(res.statusCode, 200)
  t.equal(await res.body.text(), 'route')
  await until(() => logs.filterMessages('p').includes('delete'), 'the stream to end')
  for (const cmd of ['log continue 0', 'log close 0', 'log close 1', 'done close 0']) t.equal(statusOf(logs, 'p', cmd), 0, cmd)
  const again = await request(`${base}/`)
  t.equal(again.statusCode, 200)
  await again.body.text()
})

test('proxy_set_effective_context: unknown ids are BadArgument; 0 means the current context', async t => {
  const script = [
    'req effective 999999', 'req effective 4294967295',
    // the root context has no request: header calls made for it fail
    'req effective root', 'req get 0 :path', 'req local 403 from_root no ""',
    'req effective 0', 'req get 0 :path',
    'req effective self', 'req add 0 x-self yes'
  ]
  const { app, logs } = await buildApp(t, { configs: [probe('p', script)] })
  app.get('/e', async req => req.headers['x-self'])
  const res = await app.inject('/e')
  t.equal(res.statusCode, 200, 'a local reply for the root context is not one for the request')
  t.equal(res.body, 'yes')
  t.equal(statusOf(logs, 'p', 'req effective 999999'), 2)
  t.equal(statusOf(logs, 'p', 'req effective 4294967295'), 2)
  t.equal(statusOf(logs, 'p', 'req effective root'), 0)
  t.equal(statusOf(logs, 'p', 'req get 0 :path'), 2, 'read for the root context')
  t.equal(statusOf(logs, 'p', 'req local 403 from_root no ""'), 0)
  t.equal(statusOf(logs, 'p', 'req effective 0'), 0)
  const paths = logs.filterMessages('p').filter(m => m.startsWith('req get 0 :path -> '))
  t.same(paths, ['req get 0 :path -> 2', `req get 0 :path -> 0 ${Buffer.from('/e').toString('hex')}`], 'back on the stream after id 0')
  t.equal(statusOf(logs, 'p', 'req effective self'), 0)
  t.equal(statusOf(logs, 'p', 'req add 0 x-self yes'), 0)
})

test('the effective context lasts only for the callback that set it', async t => {
  const { app, logs } = await buildApp(t, { configs: [probe('p', ['req effective root', 'res get 0 :path'])] })
  app.get('/r', async () => 'route')
  const res = await app.inject('/r')
  t.equal(res.statusCode, 200)
  t.equal(statusOf(logs, 'p', 'req effective root'), 0)
  t.equal(logs.filterMessages('p').find(m => m.startsWith('res get 0 :path -> ')), `res get 0 :path -> 0 ${Buffer.from('/r').toString('hex')}`)
})

test('continuing a stream that is not paused is Ok and changes nothing', async t => {
  const script = ['req continue 0', 'req continue 1', 'res continue 0', 'res continue 1']
  const { app, logs } = await buildApp(t, { configs: [probe('p', script)] })
  let handled = 0
  app.get('/', async () => { handled++; return 'route' })
  const res = await app.inject('/')
  t.equal(res.statusCode, 200)
  t.equal(res.body, 'route')
  t.equal(handled, 1)
  for (const line of script) t.equal(statusOf(logs, 'p', line), 0, line)
})

// The tests below drive fixtures/wat/hm-probe.wat (test/helpers/probe.ts).

test('stream types 2 and 3 (downstream, upstream) are Unimplemented for an HTTP filter; the request goes on', async t => {
  const p = new Program()
  const ops: Array<[string, number]> = []
  for (const [phase, name] of [[Phase.RequestHeaders, 'request'], [Phase.ResponseHeaders, 'response']] as const) {
    for (const type of [2, 3]) {
      ops.push([`${name}: continue ${type}`, p.call(phase, Fn.Continue, [type])])
      ops.push([`${name}: close ${type}`, p.call(phase, Fn.Close, [type])])
    }
  }
  const { app, logs } = await buildApp(t, { configs: [hmProbe('p', p)] })
  let handled = 0
  app.get('/', async () => { handled++; return 'route' })
  const base = await listen(app)
  const res = await request(`${base}/`)
  t.equal(res.statusCode, 200)
  t.equal(await res.body.text(), 'route')
  t.equal(handled, 1)
  for (const [what, i] of ops) t.equal(opStatus(logs, 'p', i), 12, what)
})

test('proxy_done from a stream context is NotFound and changes nothing; from a root that is not stopping too', async t => {
  const p = new Program()
  const req = p.call(Phase.RequestHeaders, Fn.Done)
  const res = p.call(Phase.ResponseHeaders, Fn.Done)
  const log = p.call(Phase.Log, Fn.Done)
  p.call(Phase.RequestHeaders, Fn.TickPeriod, [1])
  const tick = p.call(Phase.Tick, Fn.Done)
  p.call(Phase.Tick, Fn.TickPeriod, [0])
  const { app, logs } = await buildApp(t, { configs: [hmProbe('p', p)] })
  app.get('/', async () => 'route')
  const reply = await app.inject('/')
  t.equal(reply.statusCode, 200)
  t.equal(reply.body, 'route')
  await waitFor(() => runs(logs, 'p', log).length > 0 && runs(logs, 'p', tick).length > 0, 'on_log and a tick')
  for (const i of [req, res, log]) t.equal(opStatus(logs, 'p', i), 1, `op ${i}`)
  t.equal(opStatus(logs, 'p', tick), 1, 'the root is running, not waiting to be done')
  const again = await app.inject('/')
  t.equal(again.statusCode, 200, 'the filter still works')
})

test('proxy_set_effective_context from a root: its own id and 0 are Ok; a stream that has ended and unknown ids are BadArgument', async t => {
  const p = new Program()
  // Ticks start from on_log: by the first one the stream context is gone.
  p.call(Phase.Log, Fn.TickPeriod, [1])
  const ended = p.call(Phase.Tick, Fn.Effective, [v(Var.Stream)])
  const unknown = p.call(Phase.Tick, Fn.Effective, [0x7FFFFFFF])
  const self = p.call(Phase.Tick, Fn.Effective, [v(Var.Ctx)])
  const zero = p.call(Phase.Tick, Fn.Effective, [0])
  // With no stream to act on, stream control from the root is Ok and does nothing.
  const cont = p.call(Phase.Tick, Fn.Continue, [0])
  const close = p.call(Phase.Tick, Fn.Close, [0])
  p.call(Phase.Tick, Fn.TickPeriod, [0])
  const { app, logs } = await buildApp(t, { configs: [hmProbe('p', p)] })
  app.get('/', async () => 'route')
  const res = await app.inject('/')
  t.equal(res.statusCode, 200)
  await waitFor(() => runs(logs, 'p', close).length > 0, 'a tick')
  t.equal(opStatus(logs, 'p', ended), 2, 'the stream context is gone')
  t.equal(opStatus(logs, 'p', unknown), 2)
  t.equal(opStatus(logs, 'p', self), 0)
  t.equal(opStatus(logs, 'p', zero), 0)
  t.equal(opStatus(logs, 'p', cont), 0)
  t.equal(opStatus(logs, 'p', close), 0)
  const again = await app.inject('/')
  t.equal(again.statusCode, 200)
})

test('ABI 0.1.0: proxy_clear_route_cache and proxy_continue_request are Ok; the request goes on', async t => {
  const { app, logs } = await buildApp(t, { configs: [filter('old', wat('sc-abi010'))] })
  app.get('/', async () => 'route')
  const res = await app.inject('/')
  t.equal(res.statusCode, 200)
  t.equal(res.body, 'route')
  t.same(logs.filterMessages('old'), ['clear_route_cache 0', 'continue_request 0'])
})
