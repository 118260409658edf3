import { test } from 'tap'
import http from 'node:http'
import { once } from 'node:events'
import { Readable } from 'node:stream'
import { request } from 'undici'
import replyFrom from '@fastify/reply-from'
import { buildApp, filter } from './helpers/app'
import { wat } from './helpers/fixtures'

const MiB = 1024 * 1024

// Live memory, after a collection: what the streams hold, not the garbage
// they leave behind (tap runs tests with --expose-gc).
function live (): NodeJS.MemoryUsage {
  (globalThis as { gc?: () => void }).gc?.()
  return process.memoryUsage()
}

/** `total` bytes of lowercase text in 64 KiB chunks, made as they are read. */
function generated (total: number): Readable {
  const chunk = Buffer.alloc(64 * 1024, 'abcdefghijklmnopqrstuvwxyz')
  let sent = 0
  return new Readable({
    read () {
      if (sent >= total) return this.push(null)
      const n = Math.min(chunk.length, total - sent)
      sent += n
      this.push(n === chunk.length ? chunk : chunk.subarray(0, n))
    }
  })
}

test('a 100 MiB download through a gateway and a streaming filter keeps memory flat', async t => {
  const upstream = http.createServer((req, res) => {
    const size = req.url === '/warm' ? 10 * MiB : 100 * MiB
    res.setHeader('content-type', 'text/plain')
    res.setHeader('content-length', String(size))
    generated(size).pipe(res)
  })
  upstream.listen(0, '127.0.0.1')
  await once(upstream, 'listening')
  t.teardown(() => upstream.close())
  const { app } = await buildApp(t, { configs: [filter('upper', wat('body-upper'))] }, { level: 'warn' })
  await app.register(replyFrom, { base: `http://127.0.0.1:${(upstream.address() as { port: number }).port}` })
  app.get('/*', (req, reply) => { reply.from(req.url) })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}/big`
  // Warm up (JIT, pools) so the measurement is about the stream.
  const warm = await request(url.replace('/big', '/warm'))
  await warm.body.dump()

  // Body bytes live in ArrayBuffers: if anything buffered the stream, this would grow by ~100 MiB.
  const before = live()
  let peak = 0
  let peakBuffers = 0
  const sample = setInterval(() => {
    const m = live()
    peak = Math.max(peak, m.rss)
    peakBuffers = Math.max(peakBuffers, m.arrayBuffers)
  }, 20)
  const res = await request(url)
  t.equal(res.statusCode, 200)
  t.equal(res.headers['x-upper'], '1')
  t.equal(res.headers['content-length'], undefined, 'a filtered stream drops content-length')
  let bytes = 0
  let lower = 0
  for await (const c of res.body as AsyncIterable<Buffer>) {
    bytes += c.length
    for (let i = 0; i < c.length; i += 4096) if (c[i] >= 97) lower++
  }
  clearInterval(sample)
  t.equal(bytes, 100 * MiB, 'every byte arrived')
  t.equal(lower, 0, 'every chunk went through the filter')
  const growth = peakBuffers - before.arrayBuffers
  t.comment(`100 MiB streamed: buffers before ${(before.arrayBuffers / MiB).toFixed(1)} MiB, peak ${(peakBuffers / MiB).toFixed(1)} MiB; rss before ${(before.rss / MiB).toFixed(1)} MiB, peak ${(peak / MiB).toFixed(1)} MiB`)
  t.ok(growth < 24 * MiB, `buffer memory stays flat (grew ${(growth / MiB).toFixed(1)} MiB)`)
})

test('a 100 MiB upload streamed through a filter to an upstream keeps memory flat', async t => {
  let received = 0
  let lower = 0
  const upstream = http.createServer((req, res) => {
    req.on('data', (c: Buffer) => {
      received += c.length
      for (let i = 0; i < c.length; i += 4096) if (c[i] >= 97) lower++
    })
    req.on('end', () => res.end('stored'))
  })
  upstream.listen(0, '127.0.0.1')
  await once(upstream, 'listening')
  t.teardown(() => upstream.close())
  const { app } = await buildApp(t, { configs: [filter('upper', wat('body-upper'))] }, { level: 'warn' })
  await app.register(replyFrom, { base: `http://127.0.0.1:${(upstream.address() as { port: number }).port}` })
  app.addContentTypeParser('*', (_req, payload, done) => done(null, payload))
  app.post('/*', (req, reply) => { reply.from(req.url) })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}/up`
  const before = live().arrayBuffers
  let peak = 0
  const sample = setInterval(() => { peak = Math.max(peak, live().arrayBuffers) }, 20)
  const res = await request(url, { method: 'POST', body: generated(100 * MiB), headers: { 'content-type': 'application/octet-stream' } })
  t.equal(await res.body.text(), 'STORED', 'the response went through the filter too')
  clearInterval(sample)
  t.equal(received, 100 * MiB)
  t.equal(lower, 0, 'the upstream got the filtered body')
  const growth = peak - before
  t.comment(`upload: buffer memory grew ${(growth / MiB).toFixed(1)} MiB for 100 MiB streamed`)
  t.ok(growth < 24 * MiB, `buffer memory stays flat (grew ${(growth / MiB).toFixed(1)} MiB)`)
})

test('a client that hangs up mid-body ends the stream once and leaves nothing behind', async t => {
  const { app, logs } = await buildApp(t, { configs: [filter('upper', wat('body-upper')), filter('life', wat('life-order'))] }, { level: 'info' })
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: 200 * MiB }, (_req, body, done) => done(null, body))
  app.post('/', async () => 'done')
  app.get('/down', async (_req, reply) => reply.type('text/plain').send(generated(50 * MiB)))
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as { port: number }).port
  // Upload: send part of a 10 MiB body, then destroy the socket.
  await new Promise<void>(resolve => {
    const req = http.request({ port, host: '127.0.0.1', method: 'POST', path: '/', headers: { 'content-type': 'text/plain', 'content-length': String(10 * MiB) } })
    req.on('error', () => resolve())
    req.write(Buffer.alloc(MiB, 'a'), () => setTimeout(() => { req.destroy(); resolve() }, 50))
  })
  // Download: read a little of a 50 MiB response, then leave.
  await new Promise<void>(resolve => {
    http.get({ port, host: '127.0.0.1', path: '/down' }, res => {
      res.once('data', () => { res.destroy(); resolve() })
    })
  })
  for (let i = 0; i < 200 && logs.filterMessages('life').filter(m => m === 'on_delete').length < 3; i++) await new Promise(resolve => setTimeout(resolve, 10))
  const deletes = logs.lines.filter(l => l.filter === 'life' && l.msg === 'on_delete')
  t.equal(deletes.length, 2 + 1 - 1, 'each stream deleted once (root not yet)')
  t.equal(app.proxyWasm.stats().reduce((n, s) => n + s.streamContexts, 0), 0, 'no stream context left')
})
