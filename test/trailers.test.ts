import { test } from 'tap'
import http from 'node:http'
import { Readable } from 'node:stream'
import { buildApp, filter } from './helpers/app'
import { wat } from './helpers/fixtures'

interface Answer { status: number, headers: http.IncomingHttpHeaders, trailers: NodeJS.Dict<string>, body: string }

/** A chunked POST with trailers, through node:http (which sends and reads trailers). */
function post (url: string, body: string, trailers: Record<string, string>): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', headers: { 'content-type': 'text/plain', 'transfer-encoding': 'chunked', trailer: Object.keys(trailers).join(', ') } }, res => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', c => { text += c })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, trailers: res.trailers, body: text }))
    })
    req.on('error', reject)
    req.write(body)
    req.addTrailers(trailers)
    req.end()
  })
}

test('request trailers reach proxy_on_request_trailers, and its edits reach the route', async t => {
  const { app } = await buildApp(t, { configs: [filter('trailers', wat('trailers'))] })
  let routeTrailers: NodeJS.Dict<string> = {}
  app.post('/', async (req) => {
    routeTrailers = { ...req.raw.trailers }
    return `got ${req.body as string}`
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}/`
  const res = await post(url, 'payload', { 'x-checksum': 'abc123' })
  t.equal(res.status, 200)
  t.equal(res.body, 'got payload')
  t.equal(res.headers['x-req-trailers'], '1')
  t.equal(res.headers['x-req-checksum'], 'abc123')
  t.same(routeTrailers, { 'x-checked-checksum': 'abc123' }, 'the route sees the trailers as the filter left them')
})

test('a filter adds response trailers at the last body chunk; they reach the client', async t => {
  const { app } = await buildApp(t, { configs: [filter('trailers', wat('trailers'))] })
  app.get('/string', async () => 'short body')
  app.get('/stream', async (_req, reply) => reply.type('text/plain').send(Readable.from(['a', 'b', 'c'])))
  await app.listen({ port: 0, host: '127.0.0.1' })
  const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`
  for (const path of ['/string', '/stream']) {
    const res = await new Promise<Answer>((resolve, reject) => {
      http.get(base + path, r => {
        let text = ''
        r.setEncoding('utf8')
        r.on('data', c => { text += c })
        r.on('end', () => resolve({ status: r.statusCode ?? 0, headers: r.headers, trailers: r.trailers, body: text }))
      }).on('error', reject)
    })
    t.equal(res.status, 200, path)
    t.equal(res.trailers['x-resp-trailer'], 'done', `${path}: the trailer arrived`)
    t.equal(res.headers['content-length'], undefined, `${path}: chunked, as trailers need`)
  }
})
