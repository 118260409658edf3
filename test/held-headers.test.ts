import { test } from 'tap'
import http from 'node:http'
import { once } from 'node:events'
import { request } from 'undici'
import replyFrom from '@fastify/reply-from'
import { buildApp, filter } from './helpers/app'
import { wat } from './helpers/fixtures'

const auth = () => filter('auth', wat('body-auth'), { allow_on_headers_stop_iteration: true })

test('auth on body: headers wait for the body; the decision changes them or answers instead', async t => {
  const { app } = await buildApp(t, { configs: [auth()] })
  let handled = 0
  app.addContentTypeParser('text/plain', { parseAs: 'string' }, (_req, body, done) => done(null, body))
  app.post('/', async (req) => { handled++; return { checked: req.headers['x-body-checked'] ?? null, body: req.body } })
  const ok = await app.inject({ method: 'POST', url: '/', headers: { 'content-type': 'text/plain' }, payload: 'allow me in' })
  t.equal(ok.statusCode, 200)
  t.same(ok.json(), { checked: 'yes', body: 'allow me in' }, 'a header added in the body callback reached the route')
  const denied = await app.inject({ method: 'POST', url: '/', headers: { 'content-type': 'text/plain' }, payload: 'let me in' })
  t.equal(denied.statusCode, 403)
  t.equal(denied.body, 'denied by body')
  t.equal(handled, 1, 'the route ran only for the allowed request')
})

test('sign the response: a header computed from the whole body, set before anything is sent', async t => {
  const { app } = await buildApp(t, { configs: [auth()] })
  app.get('/', async () => 'twelve bytes')
  const res = await app.inject('/')
  t.equal(res.body, 'twelve bytes')
  t.equal(res.headers['x-body-length'], '12')
})

test('through a gateway: nothing reaches the upstream before the body decision', async t => {
  let hits = 0
  const seen: { headers: http.IncomingHttpHeaders, body: string }[] = []
  const upstream = http.createServer((req, res) => {
    hits++
    let body = ''
    req.on('data', c => { body += c })
    req.on('end', () => {
      seen.push({ headers: req.headers, body })
      res.setHeader('content-type', 'text/plain')
      res.end('upstream says hi')
    })
  })
  upstream.listen(0, '127.0.0.1')
  await once(upstream, 'listening')
  t.teardown(() => upstream.close())
  const { app } = await buildApp(t, { configs: [auth()] })
  await app.register(replyFrom, { base: `http://127.0.0.1:${(upstream.address() as { port: number }).port}` })
  app.addContentTypeParser('*', (_req, payload, done) => done(null, payload))
  app.post('/*', (req, reply) => { reply.from(req.url) })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}/x`
  const denied = await request(url, { method: 'POST', body: 'nope' })
  t.equal(denied.statusCode, 403)
  await denied.body.text()
  t.equal(hits, 0, 'the upstream never saw the denied request')
  const ok = await request(url, { method: 'POST', body: 'allowed body' })
  t.equal(ok.statusCode, 200)
  t.equal(await ok.body.text(), 'upstream says hi')
  t.equal(ok.headers['x-body-length'], '16', 'the response was signed on its way back')
  t.equal(hits, 1)
  t.equal(seen[0].headers['x-body-checked'], 'yes')
  t.equal(seen[0].body, 'allowed body', JSON.stringify(seen[0].headers))
})

test('StopIteration from headers holds the body too by default (Envoy), and lets it in with allow_on_headers_stop_iteration', async t => {
  for (const allow of [false, true]) {
    const { app, logs } = await buildApp(t, { configs: [filter('hold', wat('hold-body'), { allow_on_headers_stop_iteration: allow })] })
    app.addContentTypeParser('text/plain', { parseAs: 'string' }, (_req, body, done) => done(null, body))
    app.post('/', async (req) => req.body)
    const res = await app.inject({ method: 'POST', url: '/', headers: { 'content-type': 'text/plain' }, payload: 'data' })
    t.equal(res.body, 'data')
    const order = logs.filterMessages('hold')
    if (allow) {
      t.same(order, ['body 4 1'], 'the body callback released the headers before any tick')
    } else {
      t.same(order, ['tick', 'body 4 1'], 'the body waited for the tick with the headers')
    }
  }
})
