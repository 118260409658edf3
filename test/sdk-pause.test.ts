// The AssemblyScript SDK `pause` filter: StopIteration from on_request_headers,
// settled from on_tick through proxy_set_effective_context.
import { test } from 'tap'
import Fastify from 'fastify'
import { request } from 'undici'
import proxyWasm from '../index'
import { buildApp, filter } from './helpers/app'
import { as } from './helpers/fixtures'

const pause = filter('pause', as('pause'), { configuration: 'tick_ms=5' })

async function until (cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    if (cond()) return
    await new Promise(resolve => setTimeout(resolve, 5))
  }
  throw new Error(`timed out waiting for ${what}`)
}

const streams = (app: { proxyWasm: { stats: () => { streamContexts: number }[] } }) => app.proxyWasm.stats()[0].streamContexts

test('a held request runs its handler only after a tick continues it', async t => {
  const { app, logs } = await buildApp(t, { configs: [pause] }, { level: 'info' })
  const order: string[] = []
  app.get('/slow', async () => {
    order.push('handler')
    // What the filter had logged when the handler ran.
    order.push(...logs.filterMessages('pause').map(m => m.replace(/\d+$/, 'N')))
    return 'slow done'
  })
  app.get('/release', async () => 'released')
  const held = app.inject({ url: '/slow', headers: { 'x-delay': 'hold' } })
  await until(() => logs.filterMessages('pause').length === 1, 'the filter to hold the request')
  // Let a few ticks pass: nothing may let the request go before the release.
  const linesBefore = logs.lines.length
  await new Promise(resolve => setTimeout(resolve, 50))
  t.same(order, [], 'the handler has not run while the filter holds the request')
  t.equal(streams(app), 1)
  t.equal(logs.lines.length, linesBefore, 'nothing happened meanwhile')

  const release = await app.inject({ url: '/release', headers: { 'x-release': 'all' } })
  t.equal(release.statusCode, 200, 'the releasing request itself is not held')
  const res = await held
  t.equal(res.statusCode, 200)
  t.equal(res.body, 'slow done')
  t.same(order, ['handler', 'pause: wait N', 'pause: continue N'], 'the tick continued the request before the handler ran')
  const ids = logs.filterMessages('pause').map(m => m.split(' ').pop())
  t.equal(ids[0], ids[1], 'the tick continued the context that waited')
  t.equal(streams(app), 0)
})

test('x-delay: <ms> continues from a later tick', async t => {
  const { app, logs } = await buildApp(t, { configs: [pause] }, { level: 'info' })
  let continuedFirst = false
  app.get('/', async () => {
    continuedFirst = logs.filterMessages('pause').some(m => m.startsWith('pause: continue '))
    return 'ok'
  })
  const res = await app.inject({ url: '/', headers: { 'x-delay': '20' } })
  t.equal(res.statusCode, 200)
  t.ok(continuedFirst, 'the handler ran after the tick continued the request')
  const line = logs.lines.find(l => l.msg.startsWith('pause: continue '))
  t.equal(line?.context, Number(line?.msg.split(' ').pop()), 'logged in the paused stream\'s context (effective context)')
})

test('a tick can deny a held request: send_local_response after proxy_set_effective_context', async t => {
  const { app, logs } = await buildApp(t, { configs: [pause] }, { level: 'info' })
  let handled = 0
  app.get('/', async () => { handled++; return 'ok' })
  const res = await app.inject({ url: '/', headers: { 'x-delay': '0', 'x-delay-then': 'deny' } })
  t.equal(res.statusCode, 429)
  t.equal(res.body, 'waited too long\n')
  t.equal(res.headers['retry-after'], '1')
  t.equal(handled, 0)
  const reply = logs.lines.find(l => l.msg === 'proxy-wasm: local reply')
  t.equal(reply?.details, 'pause_denied')
  t.equal(reply?.filter, 'pause')
  t.match(logs.filterMessages('pause'), [/^pause: wait \d+$/, /^pause: deny \d+$/])
  t.equal(streams(app), 0)
})

test('2000 held requests through a real server do not hold up requests to another route', async t => {
  const { app } = await buildApp(t, { configs: [pause] }, { level: 'warn' })
  app.get('/slow', async () => 'slow')
  app.get('/fast', async () => 'fast')
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as { port: number }
  const base = `http://127.0.0.1:${port}`

  let settled = 0
  const held = Array.from({ length: 2000 }, (_, i) =>
    request(`${base}/slow`, { headers: { 'x-delay': 'hold', 'x-delay-then': i % 4 === 0 ? 'deny' : 'continue' } })
      .then(async r => ({ status: r.statusCode, body: await r.body.text() }))
      .finally(() => { settled++ }))
  await until(() => streams(app) === 2000, '2000 held requests')

  // Unpaused requests, one after another and 100 at once, all complete.
  for (let i = 0; i < 20; i++) {
    const r = await request(`${base}/fast`)
    t.equal(await r.body.text(), 'fast')
  }
  const burst = await Promise.all(Array.from({ length: 100 }, () =>
    request(`${base}/fast`).then(r => r.body.text())))
  t.same(new Set(burst), new Set(['fast']), '100 concurrent unpaused requests completed')
  t.equal(settled, 0, 'while every held request is still pending')
  t.equal(streams(app), 2000)

  const release = await request(`${base}/fast`, { headers: { 'x-release': 'all' } })
  t.equal(await release.body.text(), 'fast')
  const results = await Promise.all(held)
  const count = (status: number, body: string) => results.filter(r => r.status === status && r.body === body).length
  t.equal(count(200, 'slow'), 1500, 'continued requests ran their handler')
  t.equal(count(429, 'waited too long\n'), 500, 'denied requests got the local reply')
  await until(() => streams(app) === 0, 'every stream to finish')
  t.equal(streams(app), 0, 'no stream context left')
})

test('a client that leaves while held: the filter forgets it, and a later release touches nothing', async t => {
  const { app, logs } = await buildApp(t, { configs: [pause] }, { level: 'info' })
  app.get('/', async () => 'ok')
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as { port: number }
  const ac = new AbortController()
  const gone = request(`http://127.0.0.1:${port}/`, { headers: { 'x-delay': 'hold' }, signal: ac.signal }).catch(() => 'aborted')
  await until(() => streams(app) === 1, 'the held request')
  ac.abort()
  t.equal(await gone, 'aborted')
  await until(() => streams(app) === 0, 'the stream to end')
  const msgs = logs.filterMessages('pause')
  t.match(msgs, [/^pause: wait (\d+)$/, /^pause: forget (\d+)$/])
  t.equal(msgs[0].split(' ').pop(), msgs[1].split(' ').pop())
  const after = await request(`http://127.0.0.1:${port}/`, { headers: { 'x-release': 'all' } })
  t.equal(await after.body.text(), 'ok')
  await new Promise(resolve => setTimeout(resolve, 30))
  t.equal(logs.filterMessages('pause').length, 2, 'the tick had nothing to settle')
  t.notOk(logs.lines.some(l => l.level >= 50), 'no error was logged')
})

test('a configuration without a usable tick period is rejected at startup', async t => {
  for (const configuration of ['tick_ms=0', 'tick_ms=soon', 'tick=5']) {
    const app = Fastify()
    t.teardown(() => app.close())
    app.register(proxyWasm, { configs: [filter('pause', as('pause'), { configuration })] })
    const err = await app.ready().then(() => undefined, (e: Error & { code?: string }) => e)
    t.equal(err?.code, 'FST_PROXY_WASM_START', configuration)
    t.match(err?.message, /proxy_on_configure returned false .*the filter logged: pause: (tick_ms must be a positive number|unknown setting tick)/, configuration)
  }
})

test('app.close() while a filter holds a request: the grace period, then a 503', async t => {
  const { app } = await buildApp(t, { configs: [pause], shutdownGraceMs: 100 }, { level: 'warn' })
  app.get('/', async () => 'ok')
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as { port: number }
  const client = request(`http://127.0.0.1:${port}/`, { headers: { 'x-delay': 'hold' } })
    .then(async r => ({ status: r.statusCode, body: await r.body.text() }))
  await until(() => streams(app) === 1, 'the held request')
  const started = Date.now()
  await app.close()
  t.ok(Date.now() - started < 2000, 'app.close() does not wait on a request no filter will continue')
  t.same(await client, { status: 503, body: 'Service Unavailable: the server is shutting down' })
})
