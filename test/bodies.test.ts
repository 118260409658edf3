import { test } from 'tap'
import { request } from 'undici'
import { Readable } from 'node:stream'
import { buildApp, filter } from './helpers/app'
import { wat } from './helpers/fixtures'

const trace = (extra: Record<string, unknown> = {}) => filter('trace', wat('body-trace'), extra)

test('request body: one call with the whole content-length body and end_of_stream', async t => {
  const { app } = await buildApp(t, { configs: [trace()] })
  app.post('/', async (req) => ({ body: req.body }))
  const res = await app.inject({ method: 'POST', url: '/', payload: { a: 1 } })
  t.equal(res.statusCode, 200)
  t.same(res.json(), { body: { a: 1 } })
  t.equal(res.headers['x-trace'], '7:1')
})

test('request without a body: end_of_stream on the headers, no body callback', async t => {
  const { app } = await buildApp(t, { configs: [trace()] })
  app.get('/', async () => 'ok')
  const res = await app.inject('/')
  t.equal(res.headers['x-trace'], undefined)
})

test('chunked request body: a call per chunk, then an empty end_of_stream call', async t => {
  const { app } = await buildApp(t, { configs: [trace()] })
  app.addContentTypeParser('text/plain', { parseAs: 'string' }, (_req, body, done) => done(null, body))
  app.post('/', async (req) => req.body)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as { port: number }).port
  async function * chunks () {
    yield 'hello '
    await new Promise(resolve => setTimeout(resolve, 20))
    yield 'world'
  }
  const res = await request(`http://127.0.0.1:${port}/`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: Readable.from(chunks()) })
  t.equal(await res.body.text(), 'hello world')
  t.equal(res.headers['x-trace'], '6:0,5:0,0:1')
})

test('StopIterationAndBuffer: the next call reports the whole buffered size', async t => {
  const { app } = await buildApp(t, { configs: [trace()] })
  app.addContentTypeParser('text/plain', { parseAs: 'string' }, (_req, body, done) => done(null, body))
  app.post('/', async (req) => req.body)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as { port: number }).port
  async function * chunks () {
    yield 'aaa'
    await new Promise(resolve => setTimeout(resolve, 20))
    yield 'bb'
  }
  const res = await request(`http://127.0.0.1:${port}/`, { method: 'POST', headers: { 'content-type': 'text/plain', 'x-mode': 'b' }, body: Readable.from(chunks()) })
  t.equal(await res.body.text(), 'aaabb')
  t.equal(res.headers['x-trace'], '3:0,5:0,5:1')
})

test('StopIterationNoBuffer drops what it was given', async t => {
  const { app } = await buildApp(t, { configs: [trace()] })
  app.addContentTypeParser('text/plain', { parseAs: 'string' }, (_req, body, done) => done(null, body))
  app.post('/', async (req) => `[${req.body as string}]`)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as { port: number }).port
  async function * chunks () {
    yield 'drop'
    await new Promise(resolve => setTimeout(resolve, 20))
    yield 'keep'
  }
  // With a content-length the last chunk carries end_of_stream: that one is kept.
  const res = await request(`http://127.0.0.1:${port}/`, { method: 'POST', headers: { 'content-type': 'text/plain', 'content-length': '8', 'x-mode': 'n' }, body: Readable.from(chunks()) })
  t.equal(await res.body.text(), '[keep]')
  t.equal(res.headers['x-trace'], '4:0,4:1')
})

test('response body: string, Buffer, JSON and stream payloads all reach on_response_body', async t => {
  const { app } = await buildApp(t, { configs: [trace()] })
  app.get('/string', async () => 'hello')
  app.get('/buffer', async (_req, reply) => reply.type('application/octet-stream').send(Buffer.from('bytes')))
  app.get('/json', async () => ({ ok: true }))
  app.get('/stream', async (_req, reply) => reply.type('text/plain').send(Readable.from([Buffer.from('ab'), Buffer.from('cd')])))
  const h = { 'x-resp-trace': '1' }
  t.equal((await app.inject({ url: '/string', headers: h })).body, 'hello|5:1')
  t.equal((await app.inject({ url: '/buffer', headers: h })).body, 'bytes|5:1')
  t.equal((await app.inject({ url: '/json', headers: h })).body, '{"ok":true}|11:1')
  const s = await app.inject({ url: '/stream', headers: h })
  t.equal(s.body, 'abcd|2:0,2:0,0:1')
  t.equal(s.headers['content-length'], undefined, 'a filtered stream has no content-length')
})

test('a body set by the filter gets the right content-length (string payload)', async t => {
  const { app } = await buildApp(t, { configs: [trace()] })
  app.get('/', async () => 'hello')
  const res = await app.inject({ url: '/', headers: { 'x-resp-trace': '1' } })
  t.equal(res.headers['content-length'], String(Buffer.byteLength(res.body)))
})
