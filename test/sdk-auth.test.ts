// The AssemblyScript SDK `auth` filter: tokens, a path allow-list and 403 local replies.
import { test } from 'tap'
import { request } from 'undici'
import { buildApp, filter } from './helpers/app'
import { as } from './helpers/fixtures'

const auth = filter('auth', as('auth'), {
  configuration: [
    'token_header=x-api-key',
    'token=secret-1',
    'token=secret-2',
    'allow_path=/health',
    'allow_path=/public/*'
  ].join('\n')
})
const logger = filter('logger', as('logger'))
const headers = filter('headers', as('headers'), { configuration: 'add_response_header=x-hello: world' })

const DENIED_BODY = 'forbidden: missing or invalid token\n'

async function authApp (t: Parameters<typeof buildApp>[0], configs = [auth]) {
  const { app, logs } = await buildApp(t, { configs }, { level: 'info' })
  const handled: string[] = []
  const handler = async (req: { url: string }) => { handled.push(req.url); return 'handled' }
  app.get('/private', handler)
  app.get('/health', handler)
  app.get('/healthz', handler)
  app.get('/public', handler)
  app.get('/public/*', handler)
  app.get('/open', { config: { proxyWasm: false } }, handler)
  return { app, logs, handled }
}

test('a known token lets the request through; the filter leaves no trace on the response', async t => {
  const { app, handled } = await authApp(t)
  for (const token of ['secret-1', 'secret-2']) {
    const res = await app.inject({ url: '/private', headers: { 'x-api-key': token } })
    t.equal(res.statusCode, 200, token)
    t.equal(res.body, 'handled')
    t.equal(res.headers['x-denied-by'], undefined)
  }
  t.same(handled, ['/private', '/private'])
})

test('no token, an unknown token or an empty one: 403 with body and header; the handler does not run', async t => {
  const { app, logs, handled } = await authApp(t)
  const cases: Record<string, string>[] = [{}, { 'x-api-key': 'secret-3' }, { 'x-api-key': '' }, { 'x-other': 'secret-1' }, { 'x-api-key': 'SECRET-1' }]
  for (const h of cases) {
    const res = await app.inject({ url: '/private', headers: h })
    t.equal(res.statusCode, 403, JSON.stringify(h))
    t.equal(res.body, DENIED_BODY)
    t.equal(res.headers['x-denied-by'], 'auth-filter')
    t.equal(res.headers['content-type'], 'text/plain; charset=utf-8', 'the host adds a content-type to a body without one')
  }
  t.same(handled, [])
  const replies = logs.lines.filter(l => l.msg === 'proxy-wasm: local reply')
  t.equal(replies.length, cases.length, 'every local reply is logged')
  t.equal(replies[0].details, 'auth_denied')
  t.equal(replies[0].filter, 'auth')
})

test('the path allow-list: exact paths (query ignored) and prefixes ending in *', async t => {
  const { app, handled } = await authApp(t)
  const expect: [string, number][] = [
    ['/health', 200],
    ['/health?verbose=1', 200],
    ['/healthz', 403],
    ['/public/logo.png', 200],
    ['/public/a/b', 200],
    ['/public', 403],
    ['/private', 403],
    ['/open', 200]
  ]
  for (const [url, status] of expect) {
    const res = await app.inject({ url })
    t.equal(res.statusCode, status, url)
  }
  t.same(handled, ['/health', '/health?verbose=1', '/public/logo.png', '/public/a/b', '/open'])
})

test('through a real server: exact status, body and headers of the denial; allowed requests pass', async t => {
  const { app, handled } = await authApp(t)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as { port: number }
  const denied = await request(`http://127.0.0.1:${port}/private`, { headers: { 'x-api-key': 'nope' } })
  t.equal(denied.statusCode, 403)
  t.equal(await denied.body.text(), DENIED_BODY)
  const { date, connection, 'keep-alive': keepAlive, ...rest } = denied.headers
  t.ok(date, 'a date header')
  t.same(rest, {
    'x-denied-by': 'auth-filter',
    'content-type': 'text/plain; charset=utf-8',
    'content-length': String(Buffer.byteLength(DENIED_BODY))
  }, 'exactly the filter\'s headers plus the framing ones')
  const allowed = await request(`http://127.0.0.1:${port}/private`, { headers: { 'x-api-key': 'secret-2' } })
  t.equal(allowed.statusCode, 200)
  t.equal(await allowed.body.text(), 'handled')
  t.same(handled, ['/private'])
  t.equal(app.proxyWasm.stats()[0].streamContexts, 0)
})

test('a denial skips the filters after auth: they never see the request', async t => {
  const { app, logs, handled } = await authApp(t, [auth, logger])
  await app.ready()
  const before = logs.filterMessages('logger').length
  const denied = await app.inject({ url: '/private' })
  t.equal(denied.statusCode, 403)
  t.same(logs.filterMessages('logger').slice(before), [], 'logger got no callback at all, not even on_context_create')
  const allowed = await app.inject({ url: '/private', headers: { 'x-api-key': 'secret-1' } })
  t.equal(allowed.statusCode, 200)
  t.same(logs.filterMessages('logger').slice(before).filter(m => !m.startsWith('logger: properties')), [
    'logger: on_context_create',
    'logger: on_request_headers GET /private',
    'logger: on_response_headers 200',
    'logger: on_log response.code=200',
    'logger: on_done',
    'logger: on_delete'
  ])
  t.same(handled, ['/private'])
  for (const s of app.proxyWasm.stats()) t.equal(s.streamContexts, 0, `no context left in ${s.plugins.join(',')}`)
})

test('filters before auth see the denial as the response (Envoy): headers adds its header to the 403', async t => {
  const { app, handled } = await authApp(t, [headers, auth, logger])
  await app.ready()
  const res = await app.inject({ url: '/private' })
  t.equal(res.statusCode, 403)
  t.equal(res.body, DENIED_BODY)
  t.equal(res.headers['x-hello'], 'world', 'headers ran on_response_headers for the local reply')
  t.equal(res.headers['x-denied-by'], 'auth-filter')
  t.same(handled, [])
  t.same(app.proxyWasm.stats().map(s => s.streamContexts), [0, 0, 0])
})
