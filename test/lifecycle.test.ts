import { test } from 'tap'
import { request } from 'undici'
import { buildApp, filter, type LogLine } from './helpers/app'
import { wat } from './helpers/fixtures'

// Callback names per stream context, in the order they were logged.
function callbacksByContext (lines: LogLine[], name: string): Map<number, string[]> {
  const out = new Map<number, string[]>()
  for (const l of lines) {
    if (l.filter !== name || l.context === undefined || !l.msg.startsWith('on_')) continue
    const list = out.get(l.context) ?? []
    list.push(l.msg)
    out.set(l.context, list)
  }
  return out
}

const STREAM = ['on_context_create', 'on_request_headers', 'on_response_headers', 'on_log', 'on_done', 'on_delete']

test('root context: create, vm_start, configure at boot; done and delete on close', async t => {
  const { app, logs } = await buildApp(t, { configs: [filter('life', wat('life-order'))] })
  await app.ready()
  const root = callbacksByContext(logs.lines, 'life')
  t.same([...root.values()], [['on_context_create', 'on_vm_start', 'on_configure']])
  await app.close()
  t.same([...callbacksByContext(logs.lines, 'life').values()], [['on_context_create', 'on_vm_start', 'on_configure', 'on_done', 'on_delete']])
})

test('every request gets each stream callback exactly once, in Envoy order', async t => {
  const { app, logs } = await buildApp(t, { configs: [filter('life', wat('life-order'))] })
  app.get('/ok', async () => 'ok')
  app.get('/boom', async () => { throw new Error('boom') })
  for (const url of ['/ok', '/missing', '/boom']) await app.inject(url)
  const streams = [...callbacksByContext(logs.lines, 'life')].filter(([id]) => id !== 1)
  t.equal(streams.length, 3, 'one context per request, including the 404 and the 500')
  for (const [, calls] of streams) t.same(calls, STREAM)
  t.equal(app.proxyWasm.stats()[0].streamContexts, 0, 'no context outlives its request')
})

test('a route with proxyWasm: false runs no filter; a named list runs only those', async t => {
  const { app, logs } = await buildApp(t, {
    configs: [filter('a', wat('life-order')), filter('b', wat('life-order'))]
  })
  app.get('/none', { config: { proxyWasm: false } }, async () => 'none')
  app.get('/b', { config: { proxyWasm: ['b'] } }, async () => 'b')
  app.get('/all', async () => 'all')
  await app.inject('/none')
  t.equal(logs.filterMessages().filter(m => m === 'on_request_headers').length, 0)
  await app.inject('/b')
  t.equal(logs.filterMessages('a').filter(m => m === 'on_request_headers').length, 0)
  t.equal(logs.filterMessages('b').filter(m => m === 'on_request_headers').length, 1)
  await app.inject('/all')
  t.equal(logs.filterMessages('a').filter(m => m === 'on_request_headers').length, 1)
  t.equal(logs.filterMessages('b').filter(m => m === 'on_request_headers').length, 2)
})

test('request callbacks run in chain order, response callbacks in reverse', async t => {
  const { app, logs } = await buildApp(t, {
    configs: [filter('first', wat('life-order')), filter('second', wat('life-order'))]
  })
  app.get('/', async () => 'x')
  await app.inject('/')
  const order = logs.lines
    .filter(l => l.msg === 'on_request_headers' || l.msg === 'on_response_headers')
    .map(l => `${l.filter}:${l.msg}`)
  t.same(order, ['first:on_request_headers', 'second:on_request_headers', 'second:on_response_headers', 'first:on_response_headers'])
})

async function until (cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (cond()) return
    await new Promise(resolve => setTimeout(resolve, 5))
  }
  throw new Error(`timed out waiting for ${what}`)
}

test('a client that hangs up while its request is paused still ends its stream once', async t => {
  const { app, logs } = await buildApp(t, { configs: [filter('life', wat('life-order')), filter('pause', wat('pause-tick'))] })
  let handled = 0
  app.get('/', async () => { handled++; return 'x' })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as { port: number }).port
  const ac = new AbortController()
  // `hold`: the filter pauses the request and never continues it.
  const pending = request(`http://127.0.0.1:${port}/`, { headers: { 'x-pause': 'hold' }, signal: ac.signal })
  await until(() => app.proxyWasm.stats().some(s => s.plugins.includes('pause') && s.streamContexts === 1), 'the paused request')
  ac.abort()
  await pending.catch(() => {})
  await until(() => logs.filterMessages('life').includes('on_delete'), 'on_delete')
  const streams = [...callbacksByContext(logs.lines, 'life')].filter(([id]) => id !== 1)
  t.equal(streams.length, 1)
  t.same(streams[0][1], ['on_context_create', 'on_request_headers', 'on_log', 'on_done', 'on_delete'], 'no response phase, but log, done and delete once')
  t.equal(app.proxyWasm.stats().reduce((n, s) => n + s.streamContexts, 0), 0, 'no context left')
  t.equal(handled, 0, 'the handler never ran')
})
