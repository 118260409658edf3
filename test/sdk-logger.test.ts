// The AssemblyScript SDK `logger` filter: every callback, every level, in order,
// including on_log/on_done/on_delete for replies, errors and clients that leave.
import { test } from 'tap'
import { connect, type Socket } from 'node:net'
import { buildApp, filter, type LogLine } from './helpers/app'
import { as } from './helpers/fixtures'

const ALL_LEVELS = 'levels=trace,debug,info,warn,error,critical'
const logger = (configuration = '') => filter('logger', as('logger'), { configuration })
const auth = filter('auth', as('auth'), { configuration: 'token=secret' })
const pause = filter('pause', as('pause'), { configuration: 'tick_ms=5' })

const NORMAL = (status: number, path: string, method = 'GET') => [
  'on_context_create',
  `on_request_headers ${method} ${path}`,
  `on_response_headers ${status}`,
  `on_log response.code=${status}`,
  'on_done',
  'on_delete'
]

/** The logger's per-request callbacks (info lines) by stream context id: prefix stripped, root and properties lines left out. */
function callbacks (lines: LogLine[]): Map<number, string[]> {
  const out = new Map<number, string[]>()
  for (const l of lines) {
    if (l.filter !== 'logger' || l.level !== 30 || l.msg.startsWith('logger: root ') || l.msg.startsWith('logger: properties ')) continue
    const list = out.get(l.context as number) ?? []
    list.push(l.msg.slice('logger: '.length))
    out.set(l.context as number, list)
  }
  return out
}

async function until (cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    if (cond()) return
    await new Promise(resolve => setTimeout(resolve, 5))
  }
  throw new Error(`timed out waiting for ${what}`)
}

test('each callback logs once per level; the levels map to pino trace..fatal', async t => {
  const { app, logs } = await buildApp(t, { configs: [logger(ALL_LEVELS)] }, { level: 'trace' })
  app.get('/ok', async () => 'ok')
  await app.inject({ url: '/ok' })
  await app.close()
  const mine = logs.lines.filter(l => l.filter === 'logger' && l.msg.startsWith('logger: '))
  const byMsg = new Map<string, number[]>()
  for (const l of mine) byMsg.set(l.msg, [...(byMsg.get(l.msg) ?? []), l.level])
  const expected = [
    'root on_configure plugin_name=logger request.path=<none>',
    ...NORMAL(200, '/ok'),
    'properties plugin_name=logger request.path=/ok source.address=127.0.0.1',
    'root on_done',
    'root on_delete'
  ]
  t.same([...byMsg.keys()].sort(), expected.map(m => `logger: ${m}`).sort(), 'every callback, stream and root, logged')
  for (const [msg, levels] of byMsg) t.same(levels, [10, 20, 30, 40, 50, 60], msg)
})

test('callback order per request: 200, 404, a handler that throws (500), a body Fastify rejects (400)', async t => {
  const { app, logs } = await buildApp(t, { configs: [logger()] }, { level: 'info' })
  app.get('/ok', async () => 'ok')
  app.get('/boom', async () => { throw new Error('boom') })
  app.post('/json', async (req) => req.body)
  t.equal((await app.inject({ url: '/ok' })).statusCode, 200)
  t.equal((await app.inject({ url: '/missing' })).statusCode, 404)
  t.equal((await app.inject({ url: '/boom' })).statusCode, 500)
  const bad = await app.inject({ method: 'POST', url: '/json', headers: { 'content-type': 'application/json' }, payload: '{nope' })
  t.equal(bad.statusCode, 400)
  t.same([...callbacks(logs.lines).values()], [NORMAL(200, '/ok'), NORMAL(404, '/missing'), NORMAL(500, '/boom'), NORMAL(400, '/json', 'POST')])
  t.equal(app.proxyWasm.stats()[0].streamContexts, 0)
})

test('a local reply from a later filter goes through the logger\'s response callback', async t => {
  const { app, logs } = await buildApp(t, { configs: [logger(), auth] }, { level: 'info' })
  let handled = 0
  app.get('/private', async () => { handled++; return 'ok' })
  const res = await app.inject({ url: '/private' })
  t.equal(res.statusCode, 403)
  t.equal(handled, 0)
  t.same([...callbacks(logs.lines).values()], [NORMAL(403, '/private')])
  t.same(app.proxyWasm.stats().map(s => s.streamContexts), [0, 0])
})

test('properties through a real server: source.address is the client\'s ip:port', async t => {
  const { app, logs } = await buildApp(t, { configs: [logger()] }, { level: 'info' })
  app.get('/ok', async () => 'ok')
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as { port: number }
  const socket = await open(port)
  t.teardown(() => socket.destroy())
  const response = new Promise<string>(resolve => {
    let text = ''
    socket.on('data', d => { text += d; if (text.endsWith('ok')) resolve(text) })
  })
  socket.write('GET /ok?a=1 HTTP/1.1\r\nHost: example.test\r\n\r\n')
  t.match(await response, /^HTTP\/1.1 200 OK/)
  await until(() => logs.filterMessages('logger').includes('logger: on_delete'), 'the stream to end')
  t.ok(logs.filterMessages('logger').includes(`logger: properties plugin_name=logger request.path=/ok?a=1 source.address=127.0.0.1:${socket.localPort}`))
})

function open (port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => resolve(s))
    s.on('error', reject)
  })
}

test('a client that hangs up while pause holds its request: log, done and delete exactly once, no context left', async t => {
  const { app, logs } = await buildApp(t, { configs: [logger(), pause] }, { level: 'info' })
  let handled = 0
  app.get('/slow', async () => { handled++; return 'slow' })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as { port: number }
  const socket = await open(port)
  socket.write('GET /slow HTTP/1.1\r\nHost: example.test\r\nx-delay: hold\r\n\r\n')
  await until(() => logs.filterMessages('pause').length === 1, 'pause to hold the request')
  t.same(app.proxyWasm.stats().map(s => s.streamContexts), [1, 1], 'one stream context in each VM')
  socket.destroy()
  await until(() => app.proxyWasm.stats().every(s => s.streamContexts === 0), 'the stream to end')
  // Whatever comes later must not call the filters again.
  await new Promise(resolve => setTimeout(resolve, 30))
  t.same([...callbacks(logs.lines).values()], [[
    'on_context_create',
    'on_request_headers GET /slow',
    'on_log response.code=<none>',
    'on_done',
    'on_delete'
  ]], 'no response callback, and the end callbacks once')
  t.match(logs.filterMessages('pause'), [/^pause: wait \d+$/, /^pause: forget \d+$/])
  t.equal(handled, 0)
})
