import { test } from 'tap'
import { request } from 'undici'
import { Readable } from 'node:stream'
import http from 'node:http'
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

const edit = () => filter('edit', wat('body-edit'))

async function echoApp (t: Parameters<typeof buildApp>[0], bodyLimit?: number) {
  const { app, logs } = await buildApp(t, { configs: [edit()], ...(bodyLimit !== undefined ? { bodyLimit } : {}) }, { level: 'warn' })
  app.addContentTypeParser('text/plain', { parseAs: 'buffer', bodyLimit: 64 * 1024 * 1024 }, (_req, body, done) => done(null, body))
  app.post('/', async (req, reply) => reply.type('text/plain').send(req.body))
  return { app, logs }
}

test('proxy_set_buffer_bytes on the request body: prepend, append, replace, middle, shrink, empty', async t => {
  const { app } = await echoApp(t)
  const cases: [string, string, string, string][] = [
    // start, len, data, expected body
    ['0', '0', 'X', 'Xhello world'],
    ['4294967295', '0', 'X', 'hello worldX'],
    ['11', '0', '!', 'hello world!'],
    ['0', '11', 'bye', 'bye'],
    ['6', '5', 'there', 'hello there'],
    ['5', '100', '', 'hello'],
    ['0', '11', '', '']
  ]
  for (const [start, len, data, expected] of cases) {
    const res = await app.inject({ method: 'POST', url: '/', headers: { 'content-type': 'text/plain', 'x-op': 'w', 'x-start': start, 'x-len': len, 'x-data': data }, payload: 'hello world' })
    t.equal(res.headers['x-status'], '0', `set(${start}, ${len}) answers Ok`)
    t.equal(res.body, expected, `set(${start}, ${len}, ${JSON.stringify(data)})`)
    t.equal(res.headers['content-length'], String(Buffer.byteLength(expected)))
  }
})

test('proxy_get_buffer_bytes on the request body: ranges, clamps, zero length, start past the end', async t => {
  const { app } = await echoApp(t)
  const cases: [string, string, string][] = [
    ['6', '5', 'world'],
    ['0', '4294967295', 'hello world'],
    ['6', '4294967295', 'world'],
    ['10', '5', 'd'],
    ['11', '5', ''],
    ['100', '5', ''],
    ['0', '0', '']
  ]
  for (const [start, len, expected] of cases) {
    const res = await app.inject({ method: 'POST', url: '/', headers: { 'content-type': 'text/plain', 'x-op': 'r', 'x-start': start, 'x-len': len }, payload: 'hello world' })
    t.equal(res.headers['x-status'], '0', `get(${start}, ${len}) answers Ok`)
    t.equal(res.headers['x-size'], String(expected.length), 'size written')
    t.equal(res.body, expected, `get(${start}, ${len})`)
  }
  const status = await app.inject({ method: 'POST', url: '/', headers: { 'content-type': 'text/plain', 'x-op': 's' }, payload: 'hello world' })
  t.equal(status.headers['x-status'], '0')
  t.equal(status.headers['x-size'], '11', 'get_buffer_status reports the buffered length')
})

test('response body edits reach the client with a corrected content-length', async t => {
  const { app } = await buildApp(t, { configs: [edit()] })
  app.get('/', async () => 'hello world')
  app.get('/stream', async (_req, reply) => reply.type('text/plain').send(Readable.from(['hello ', 'world'])))
  const res = await app.inject({ url: '/', headers: { 'x-rop': 'w', 'x-rstart': '6', 'x-rlen': '5', 'x-rdata': 'wasm!' } })
  t.equal(res.body, 'hello wasm!')
  t.equal(res.headers['content-length'], '11')
  const streamed = await app.inject({ url: '/stream', headers: { 'x-rop': 'w', 'x-rstart': '0', 'x-rlen': '0', 'x-rdata': '> ' } })
  t.equal(streamed.body, '> hello world')
  t.equal(streamed.headers['content-length'], undefined)
})

test('bodies of 0 bytes, 1 byte and 10 MiB', async t => {
  const { app } = await echoApp(t, 16 * 1024 * 1024)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}/`
  // An announced but empty (chunked) body: one call (0, end_of_stream), a buffer of length 0.
  const empty = await rawPost(url, { 'content-type': 'text/plain', 'transfer-encoding': 'chunked', 'x-op': 's' })
  t.equal(empty.body, '')
  t.equal(empty.headers['x-status'], '0')
  t.equal(empty.headers['x-size'], '0')
  const one = await request(url, { method: 'POST', headers: { 'content-type': 'text/plain', 'x-op': 'w', 'x-start': '0', 'x-len': '0', 'x-data': '>' }, body: 'a' })
  t.equal(await one.body.text(), '>a')
  const big = Buffer.alloc(10 * 1024 * 1024, 'abcdefghij')
  const tenMiB = await request(url, { method: 'POST', headers: { 'content-type': 'text/plain', 'x-op': 'w', 'x-start': String(big.length), 'x-len': '0', 'x-data': '!' }, body: big })
  const out = Buffer.from(await tenMiB.body.arrayBuffer())
  t.equal(out.length, big.length + 1)
  t.ok(out.subarray(0, big.length).equals(big), 'the 10 MiB body arrives intact')
  t.equal(out[big.length], 0x21)
})

test('a filter that buffers past bodyLimit gets the client a 413', async t => {
  const { app } = await echoApp(t, 1024)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}/`
  async function * chunks () {
    for (let i = 0; i < 4; i++) {
      yield Buffer.alloc(512, i)
      await new Promise(resolve => setTimeout(resolve, 5))
    }
  }
  const res = await request(url, { method: 'POST', headers: { 'content-type': 'text/plain', 'x-op': 's' }, body: Readable.from(chunks()) })
  t.equal(res.statusCode, 413)
  t.equal(await res.body.text(), 'Payload Too Large')
  // A single chunk bigger than the limit that is not held back is fine.
  const once = await app.inject({ method: 'POST', url: '/', headers: { 'content-type': 'text/plain', 'x-op': 's' }, payload: Buffer.alloc(4096, 1) })
  t.equal(once.statusCode, 200)
})

test('a response a filter buffers past bodyLimit becomes a 500', async t => {
  const { app } = await buildApp(t, { configs: [edit()], bodyLimit: 1024 }, { level: 'warn' })
  app.get('/', async (_req, reply) => reply.type('text/plain').send(Readable.from([Buffer.alloc(800, 1), Buffer.alloc(800, 2)])))
  const res = await app.inject({ url: '/', headers: { 'x-rop': 's' } })
  t.equal(res.statusCode, 500)
})

/** A POST through node:http, so the request can be chunked with no chunks at all. */
function rawPost (url: string, headers: Record<string, string>): Promise<{ body: string, headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', headers }, res => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', c => { body += c })
      res.on('end', () => resolve({ body, headers: res.headers }))
    })
    req.on('error', reject)
    req.end()
  })
}
