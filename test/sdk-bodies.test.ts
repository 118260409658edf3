import { test } from 'tap'
import http from 'node:http'
import { once } from 'node:events'
import { Readable } from 'node:stream'
import { request } from 'undici'
import replyFrom from '@fastify/reply-from'
import { buildApp, filter } from './helpers/app'
import { as, wat } from './helpers/fixtures'

const rewrite = () => filter('json-rewrite', as('json-rewrite'), { configuration: 'field=via\nvalue=wasm' })
const redact = () => filter('redact', as('redact'), { configuration: 'word=secret\nword=4111111111111111' })

test('an SDK filter rewrites a JSON request body: the route parses what it wrote', async t => {
  const { app } = await buildApp(t, { configs: [rewrite()] }, { level: 'warn' })
  app.post('/', async (req) => ({ body: req.body, rewritten: req.headers['x-rewritten'] ?? null, length: req.headers['content-length'] }))
  const res = await app.inject({ method: 'POST', url: '/', payload: { user: 'ada' } })
  t.equal(res.statusCode, 200)
  const got = res.json()
  t.same(got.body, { via: 'wasm', user: 'ada' })
  t.equal(got.rewritten, '1')
  t.equal(got.length, String(Buffer.byteLength('{"via":"wasm","user":"ada"}')), 'the route sees the rewritten length')
  const empty = await app.inject({ method: 'POST', url: '/', payload: {} })
  t.same(empty.json().body, { via: 'wasm' })
  const bad = await app.inject({ method: 'POST', url: '/', headers: { 'content-type': 'application/json' }, payload: '[1,2]' })
  t.equal(bad.statusCode, 400)
  t.equal(bad.body, 'expected a JSON object\n')
})

test('through a gateway, the upstream gets the rewritten body with a right length', async t => {
  const seen: { body: string, headers: http.IncomingHttpHeaders }[] = []
  const upstream = http.createServer((req, res) => {
    let body = ''
    req.setEncoding('utf8')
    req.on('data', c => { body += c })
    req.on('end', () => {
      seen.push({ body, headers: req.headers })
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify({ echoed: JSON.parse(body) }))
    })
  })
  upstream.listen(0, '127.0.0.1')
  await once(upstream, 'listening')
  t.teardown(() => upstream.close())
  const { app } = await buildApp(t, { configs: [rewrite()] }, { level: 'warn' })
  await app.register(replyFrom, { base: `http://127.0.0.1:${(upstream.address() as { port: number }).port}` })
  app.post('/api/*', (req, reply) => { reply.from(req.url) })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const res = await request(`http://127.0.0.1:${(app.server.address() as { port: number }).port}/api/users`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'ada' })
  })
  t.same(await res.body.json(), { echoed: { via: 'wasm', name: 'ada' } })
  t.equal(seen[0].body, '{"via":"wasm","name":"ada"}')
  const length = seen[0].headers['content-length']
  t.ok(length === undefined ? seen[0].headers['transfer-encoding'] === 'chunked' : Number(length) === Buffer.byteLength(seen[0].body), 'the length the upstream got is right (or the body is chunked)')
})

test('an SDK filter redacts a streamed response, across chunk boundaries, and counts in a trailer', async t => {
  const { app } = await buildApp(t, { configs: [redact()] }, { level: 'warn' })
  app.get('/stream', async (_req, reply) => reply.type('text/plain').send(Readable.from(['card 4111111', '111111111 and a sec', 'ret here'])))
  app.get('/string', async () => 'my secret is secret')
  await app.listen({ port: 0, host: '127.0.0.1' })
  const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`
  for (const [path, expected, count] of [
    ['/stream', 'card **************** and a ****** here', '2'],
    ['/string', 'my ****** is ******', '2']
  ]) {
    const res = await new Promise<{ body: string, trailers: NodeJS.Dict<string> }>((resolve, reject) => {
      http.get(base + path, r => {
        let body = ''
        r.setEncoding('utf8')
        r.on('data', c => { body += c })
        r.on('end', () => resolve({ body, trailers: r.trailers }))
      }).on('error', reject)
    })
    t.equal(res.body, expected, path)
    t.equal(res.trailers['x-redactions'], count, `${path}: the count arrives as a trailer`)
  }
})

test('redaction of a response proxied from an upstream, streamed', async t => {
  const upstream = http.createServer((_req, res) => {
    res.setHeader('content-type', 'text/plain')
    res.setHeader('content-length', '600000')
    // 600000 bytes in 60 writes, each with the secret somewhere.
    let i = 0
    const write = () => {
      while (i < 60) {
        const chunk = Buffer.alloc(10000, '.')
        chunk.write('secret', (i * 997) % 9990)
        i++
        if (!res.write(chunk)) return res.once('drain', write)
      }
      res.end()
    }
    write()
  })
  upstream.listen(0, '127.0.0.1')
  await once(upstream, 'listening')
  t.teardown(() => upstream.close())
  const { app } = await buildApp(t, { configs: [redact()] }, { level: 'warn' })
  await app.register(replyFrom, { base: `http://127.0.0.1:${(upstream.address() as { port: number }).port}` })
  app.get('/*', (req, reply) => { reply.from(req.url) })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const res = await request(`http://127.0.0.1:${(app.server.address() as { port: number }).port}/file`)
  const body = await res.body.text()
  t.equal(body.length, 600000, 'same length: redaction keeps the size')
  t.notOk(body.includes('secret'), 'no secret left')
  t.equal(body.split('******').length - 1, 60, 'every occurrence redacted')
  t.equal(res.headers['content-length'], undefined, 'a filtered stream drops content-length')
  t.equal(res.trailers['x-redactions'], '60')
})

test('a body that arrives while an earlier filter holds the headers is rewritten with the right length', async t => {
  const seen: { body: string, length: string | undefined }[] = []
  const upstream = http.createServer((req, res) => {
    let body = ''
    req.setEncoding('utf8')
    req.on('data', c => { body += c })
    req.on('end', () => {
      seen.push({ body, length: req.headers['content-length'] })
      res.end('ok')
    })
  })
  upstream.listen(0, '127.0.0.1')
  await once(upstream, 'listening')
  t.teardown(() => upstream.close())
  // pause-tick holds the request until its next tick: the whole body arrives meanwhile.
  const { app } = await buildApp(t, { configs: [filter('pause', wat('pause-tick')), rewrite()] }, { level: 'warn' })
  await app.register(replyFrom, { base: `http://127.0.0.1:${(upstream.address() as { port: number }).port}` })
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', (_req, payload, done) => done(null, payload))
  app.post('/*', (req, reply) => { reply.from(req.url) })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const res = await request(`http://127.0.0.1:${(app.server.address() as { port: number }).port}/x`, {
    method: 'POST', headers: { 'content-type': 'application/json', 'x-pause': 'go' }, body: '{"hello":"world"}'
  })
  t.equal(res.statusCode, 200)
  t.equal(await res.body.text(), 'ok')
  t.same(seen, [{ body: '{"via":"wasm","hello":"world"}', length: '30' }])
})
