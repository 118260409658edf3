import { test } from 'tap'
import { buildApp, filter } from './helpers/app'
import { wat } from './helpers/fixtures'

test('a trap fails the VM closed: 503 with a coded error, then for every request', async t => {
  const { app, logs } = await buildApp(t, { configs: [filter('trappy', wat('fail-trap'))] })
  let handled = 0
  app.get('/', async () => { handled++; return 'ok' })
  const before = await app.inject('/')
  t.equal(before.statusCode, 200)
  t.equal(before.headers['x-fail-trap'], 'ok')

  const res = await app.inject({ url: '/', headers: { 'x-trap': '1' } })
  t.equal(res.statusCode, 503)
  t.equal(res.json().code, 'FST_PROXY_WASM_VM_FAILED')
  t.match(res.json().message, /trappy/)
  const after = await app.inject('/')
  t.equal(after.statusCode, 503, 'the VM stays failed')
  t.equal(handled, 1)

  const failures = logs.lines.filter(l => /the VM of trappy failed/.test(l.msg))
  t.equal(failures.length, 1, 'the failure is logged once')
  t.equal(failures[0].callback, 'proxy_on_request_headers')
  t.match(failures[0].msg, /unreachable/)
  t.same(app.proxyWasm.stats()[0].failed, true)
})

test('fail_open: a failed filter is bypassed and the request goes through', async t => {
  const { app } = await buildApp(t, { configs: [filter('trappy', wat('fail-trap'), { fail_open: true }), filter('hdr', wat('headers-basic'))] })
  app.get('/', async (req) => ({ seen: req.headers['x-wasm'] ?? null }))
  const res = await app.inject({ url: '/', headers: { 'x-trap': '1' } })
  t.equal(res.statusCode, 200)
  t.same(res.json(), { seen: 'request' }, 'the next filter still ran')
  t.equal(res.headers['x-fail-trap'], undefined, 'the failed filter did not')
  const again = await app.inject('/')
  t.equal(again.statusCode, 200)
  t.equal(again.headers['x-wasm'], 'response')
})

test('failure_policy FAIL_OPEN means the same as fail_open: true', async t => {
  const { app } = await buildApp(t, { configs: [filter('trappy', wat('fail-trap'), { failure_policy: 'FAIL_OPEN' })] })
  app.get('/', async () => 'ok')
  const res = await app.inject({ url: '/', headers: { 'x-trap': '1' } })
  t.equal(res.statusCode, 200)
})

test('a trap in the response phase replaces the response with the 503', async t => {
  const { app } = await buildApp(t, { configs: [filter('trappy', wat('fail-trap'))] })
  app.get('/', async (_req, reply) => { reply.header('x-secret', 'route'); return 'route body' })
  const res = await app.inject({ url: '/', headers: { 'x-trap-response': '1' } })
  t.equal(res.statusCode, 503)
  t.equal(res.headers['x-secret'], undefined)
  t.equal(res.json().code, 'FST_PROXY_WASM_VM_FAILED')
})

test('other filters and the process carry on after one VM fails', async t => {
  const { app } = await buildApp(t, { configs: [filter('trappy', wat('fail-trap')), filter('hdr', wat('headers-basic'))] })
  app.get('/a', { config: { proxyWasm: ['trappy'] } }, async () => 'a')
  app.get('/b', { config: { proxyWasm: ['hdr'] } }, async () => 'b')
  t.equal((await app.inject({ url: '/a', headers: { 'x-trap': '1' } })).statusCode, 503)
  const b = await app.inject('/b')
  t.equal(b.statusCode, 200)
  t.equal(b.headers['x-wasm'], 'response')
})

test('a VM that fails while requests are paused answers them (closed) or lets them through (open)', async t => {
  for (const failOpen of [false, true]) {
    const { app } = await buildApp(t, { configs: [filter('pause', wat('pause-tick'), { fail_open: failOpen })] })
    app.get('/', async () => 'through')
    // Two paused requests: one continues on the tick, the other makes the tick trap.
    const [a, b] = await Promise.all([
      app.inject({ url: '/', headers: { 'x-pause': 'hold' } }),
      app.inject({ url: '/', headers: { 'x-pause': 'trap' } })
    ])
    for (const r of [a, b]) {
      if (failOpen) {
        t.equal(r.statusCode, 200)
        t.equal(r.body, 'through')
      } else {
        t.equal(r.statusCode, 503)
      }
    }
    t.equal(app.proxyWasm.stats()[0].streamContexts, 0)
  }
})
