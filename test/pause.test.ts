import { test } from 'tap'
import { request } from 'undici'
import { buildApp, filter } from './helpers/app'
import { wat } from './helpers/fixtures'

async function until (cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    if (cond()) return
    await new Promise(resolve => setTimeout(resolve, 5))
  }
  throw new Error(`timed out waiting for ${what}`)
}

test('a paused request runs its handler only after a tick continues it', async t => {
  const { app } = await buildApp(t, { configs: [filter('pause', wat('pause-tick'))] })
  const order: string[] = []
  app.get('/', async () => { order.push('handler'); return 'done' })
  const r = app.inject({ url: '/', headers: { 'x-pause': 'go' } })
  order.push('injected')
  const res = await r
  t.equal(res.statusCode, 200)
  t.equal(res.body, 'done')
  t.same(order, ['injected', 'handler'])
})

test('a tick can answer a paused request with a local reply', async t => {
  const { app, logs } = await buildApp(t, { configs: [filter('pause', wat('pause-tick'))] })
  let handled = 0
  app.get('/', async () => { handled++; return 'done' })
  const res = await app.inject({ url: '/', headers: { 'x-pause': 'deny' } })
  t.equal(res.statusCode, 429)
  t.equal(res.body, 'paused too long')
  t.equal(handled, 0)
  const line = logs.lines.find(l => l.msg === 'proxy-wasm: local reply')
  t.equal(line?.details, 'pause_deny')
  t.equal(line?.filter, 'pause')
})

test('a tick can close a paused request: the client gets no response', async t => {
  const { app } = await buildApp(t, { configs: [filter('pause', wat('pause-tick'))] })
  let handled = 0
  app.get('/', async () => { handled++; return 'done' })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as { port: number }).port
  await t.rejects(request(`http://127.0.0.1:${port}/`, { headers: { 'x-pause': 'close' } }))
  t.equal(handled, 0)
  // The server is still fine.
  const ok = await request(`http://127.0.0.1:${port}/`)
  t.equal(ok.statusCode, 200)
  await ok.body.text()
})

test('thousands of paused requests do not hold up the others', async t => {
  const { app } = await buildApp(t, { configs: [filter('pause', wat('pause-tick'))] }, { level: 'warn' })
  app.get('/', async () => 'ok')
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as { port: number }).port
  const url = `http://127.0.0.1:${port}/`
  const ac = new AbortController()
  // 2000 requests the filter holds forever (until their clients leave).
  const held = Array.from({ length: 2000 }, () =>
    request(url, { headers: { 'x-pause': 'hold' }, signal: ac.signal }).catch(() => 'aborted'))
  await until(() => app.proxyWasm.stats()[0].streamContexts === 2000, '2000 paused requests')
  // Meanwhile, other requests go straight through.
  for (let i = 0; i < 50; i++) {
    const r = await request(url)
    t.equal(r.statusCode, 200)
    await r.body.text()
  }
  t.equal(app.proxyWasm.stats()[0].streamContexts, 2000, 'the held requests are still paused')
  ac.abort()
  t.same(new Set(await Promise.all(held)), new Set(['aborted']))
  await until(() => app.proxyWasm.stats()[0].streamContexts === 0, 'held streams to end')
  t.pass('every held stream ended when its client left')
})

test('requests paused by many filters at once resume independently', async t => {
  const { app } = await buildApp(t, { configs: [filter('pause', wat('pause-tick'))] })
  app.get('/', async (req) => req.headers['x-n'])
  const results = await Promise.all(Array.from({ length: 100 }, (_, i) =>
    app.inject({ url: '/', headers: { 'x-pause': i % 2 === 0 ? 'go' : 'deny', 'x-n': String(i) } })))
  results.forEach((r, i) => {
    if (i % 2 === 0) t.equal(r.body, String(i))
    else t.equal(r.statusCode, 429)
  })
  t.equal(app.proxyWasm.stats()[0].streamContexts, 0)
})
