import { test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { connect, type AddressInfo } from 'node:net'
import { request } from 'undici'
import { buildApp } from './helpers/app'
import { callbacks, encodePairs, Fn, Maps, Phase, Program, probe, result, Status, statusOf, textOf, until, v, Var } from './helpers/probe'

const REQ = Phase.RequestHeaders
const RES = Phase.ResponseHeaders
const { Ok, BadArgument, InvalidMemoryAccess } = Status

/** A catch-all route counting its runs. */
function countingRoute (app: FastifyInstance): { runs: number } {
  const counter = { runs: 0 }
  app.all('/*', async (_req, reply) => {
    counter.runs++
    reply.header('x-route', 'yes')
    return 'route'
  })
  return counter
}

const replyLogs = (logs: { lines: Array<Record<string, unknown>> }) => logs.lines.filter(l => l.msg === 'proxy-wasm: local reply')

test('a local reply from on_request_headers: status, body, repeated headers, details; the route does not run', async t => {
  const p = new Program()
  const op = p.localReply(REQ, 403, {
    details: 'denied_by_probe',
    body: 'access denied\n',
    headers: [['X-Reason', 'one'], ['x-reason', 'two'], ['Content-Type', 'text/x-probe'], ['set-cookie', 'a=1'], ['set-cookie', 'b=2']]
  })
  const { app, logs } = await buildApp(t, { configs: [probe('p', p)] })
  const route = countingRoute(app)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  const res = await request(`http://127.0.0.1:${port}/x`)
  t.equal(res.statusCode, 403)
  t.equal(await res.body.text(), 'access denied\n')
  t.same(res.headers['x-reason'], ['one', 'two'], 'each value on its own line')
  t.same(res.headers['set-cookie'], ['a=1', 'b=2'])
  t.equal(res.headers['content-type'], 'text/x-probe')
  t.equal(res.headers['x-route'], undefined)
  t.equal(route.runs, 0)
  t.equal(statusOf(logs, 'p', op), Ok)
  const [line] = replyLogs(logs)
  t.match(line, { filter: 'p', statusCode: 403, details: 'denied_by_probe' })
  // The reply still passes on_response_headers of the filter that saw the request (Envoy).
  t.equal(callbacks(logs, 'p', RES).length, 1)
})

test('a body without a content-type gets text/plain; an empty body gets none', async t => {
  const withBody = new Program()
  withBody.localReply(REQ, 401, { body: 'who are you' })
  const empty = new Program()
  empty.localReply(REQ, 401)
  const { app } = await buildApp(t, { configs: [probe('body', withBody), probe('empty', empty)] })
  app.get('/body', { config: { proxyWasm: ['body'] } }, async () => 'route')
  app.get('/empty', { config: { proxyWasm: ['empty'] } }, async () => 'route')
  const a = await app.inject('/body')
  t.equal(a.statusCode, 401)
  t.equal(a.body, 'who are you')
  t.equal(a.headers['content-type'], 'text/plain; charset=utf-8')
  const b = await app.inject('/empty')
  t.equal(b.statusCode, 401)
  t.equal(b.body, '')
  t.equal(b.headers['content-type'], undefined)
  t.equal(b.headers['content-length'], '0')
})

test('statuses under 400 are sent as they are (ATS would turn them into 500)', async t => {
  const cases: Array<[number, { body?: string, headers?: Array<[string, string]> }, string]> = [
    [200, { body: 'fine' }, 'fine'],
    [204, { body: 'dropped' }, ''],
    [302, { headers: [['location', '/elsewhere']] }, ''],
    [304, {}, ''],
    [399, { body: 'odd' }, 'odd'],
    [599, { body: 'last' }, 'last']
  ]
  const configs = cases.map(([status, o]) => {
    const p = new Program()
    p.localReply(REQ, status, o)
    return probe(`s${status}`, p)
  })
  const { app, logs } = await buildApp(t, { configs })
  let runs = 0
  for (const [status] of cases) app.get(`/${status}`, { config: { proxyWasm: [`s${status}`] } }, async () => { runs++; return 'route' })
  for (const [status, , body] of cases) {
    const res = await app.inject(`/${status}`)
    t.equal(res.statusCode, status, `status ${status}`)
    t.equal(res.body, body, `body of ${status}`)
    t.equal(statusOf(logs, `s${status}`, 0), Ok)
  }
  t.equal((await app.inject('/302')).headers.location, '/elsewhere')
  t.equal(runs, 0)
})

test('status out of 100..599, malformed headers, bad pointers: an error status, no reply, the route runs', async t => {
  const p = new Program()
  const cases: Array<[string, number, number]> = []
  for (const status of [0, 99, 600, 1000, 0xFFFFFFFF, 0x80000000 + 200]) {
    cases.push([`status ${status}`, p.localReply(REQ, status, { body: 'x' }), BadArgument])
  }
  const good = encodePairs([['x-h', '1']])
  const badHeaders: Array<[string, Buffer]> = [
    ['truncated', good.subarray(0, good.length - 1)],
    ['a trailing byte', Buffer.concat([good, Buffer.from([0])])],
    ['count too large', (() => { const b = Buffer.from(good); b.writeUInt32LE(2, 0); return b })()],
    ['CR LF in a value', encodePairs([['x-h', 'a\r\nx-injected: 1']])],
    ['NUL in a value', encodePairs([['x-h', 'a\0b']])],
    ['a space in a name', encodePairs([['x h', '1']])],
    ['an empty name', encodePairs([['', '1']])],
    ['a pseudo-header', encodePairs([[':status', '200']])]
  ]
  for (const [what, headers] of badHeaders) cases.push([`headers: ${what}`, p.localReply(REQ, 403, { headers }), BadArgument])
  const [body, bodyLen] = p.bytes('b')
  const FAR = 0xFFFFFFF0
  cases.push(['details pointer', p.call(REQ, Fn.LocalReply, [403, FAR, 4, body, bodyLen, 0, 0, -1]), InvalidMemoryAccess])
  cases.push(['details length', p.call(REQ, Fn.LocalReply, [403, body, 0x7FFFFFFF, 0, 0, 0, 0, -1]), InvalidMemoryAccess])
  cases.push(['body pointer', p.call(REQ, Fn.LocalReply, [403, 0, 0, FAR, 4, 0, 0, -1]), InvalidMemoryAccess])
  cases.push(['body length', p.call(REQ, Fn.LocalReply, [403, 0, 0, body, 0xFFFFFFFF, 0, 0, -1]), InvalidMemoryAccess])
  cases.push(['headers pointer', p.call(REQ, Fn.LocalReply, [403, 0, 0, 0, 0, FAR, 8, -1]), InvalidMemoryAccess])
  cases.push(['headers length', p.call(REQ, Fn.LocalReply, [403, 0, 0, 0, 0, body, 0x10000000, -1]), InvalidMemoryAccess])
  const { app, logs } = await buildApp(t, { configs: [probe('p', p)] })
  const route = countingRoute(app)
  const res = await app.inject('/')
  for (const [what, i, expected] of cases) t.equal(statusOf(logs, 'p', i), expected, what)
  t.equal(res.statusCode, 200)
  t.equal(res.body, 'route')
  t.equal(res.headers['x-h'], undefined)
  t.equal(res.headers['x-injected'], undefined)
  t.equal(route.runs, 1)
  t.equal(replyLogs(logs).length, 0)
})

test('grpc_status 0..16 sets grpc-status; -1 and 17 do not', async t => {
  const values = [...Array.from({ length: 17 }, (_, i) => i), -1, 17, 0x7FFFFFFF]
  const configs = values.map(g => {
    const p = new Program()
    p.localReply(REQ, 200, { body: 'grpc', headers: [['content-type', 'application/grpc']], grpc: g })
    return probe(`g${g}`, p)
  })
  const { app, logs } = await buildApp(t, { configs })
  for (const g of values) app.post(`/g/${g}`, { config: { proxyWasm: [`g${g}`] } }, async () => 'route')
  for (const g of values) {
    const res = await app.inject({ method: 'POST', url: `/g/${g}`, payload: 'x', headers: { 'content-type': 'application/grpc' } })
    t.equal(statusOf(logs, `g${g}`, 0), Ok)
    t.equal(res.statusCode, 200)
    t.equal(res.headers['grpc-status'], g >= 0 && g <= 16 ? String(g) : undefined, `grpc_status ${g}`)
    t.equal(res.headers['content-type'], 'application/grpc')
  }
})

test('later filters are skipped; the reply passes on_response_headers of the filters that saw the request', async t => {
  const first = new Program()
  first.localReply(REQ, 429, { body: 'slow down', headers: [['retry-after', '7']], details: 'rate_limited' })
  const status = first.getValue(RES, Maps.ResponseHeaders, ':status')
  const retry = first.getValue(RES, Maps.ResponseHeaders, 'retry-after')
  const tag = first.add(RES, Maps.ResponseHeaders, 'x-first', 'saw it')
  const { app, logs } = await buildApp(t, { configs: [probe('first', first), probe('second', new Program())] })
  const route = countingRoute(app)
  const res = await app.inject('/')
  t.equal(res.statusCode, 429)
  t.equal(res.body, 'slow down')
  t.equal(res.headers['retry-after'], '7')
  t.equal(route.runs, 0)
  t.equal(textOf(logs, 'first', status), '429')
  t.equal(textOf(logs, 'first', retry), '7')
  t.equal(statusOf(logs, 'first', tag), Ok)
  t.equal(res.headers['x-first'], 'saw it', 'its edits of the reply reach the client')
  t.same(logs.filterMessages('second'), [], 'the second filter saw nothing of this request')
  t.match(replyLogs(logs)[0], { filter: 'first', statusCode: 429, details: 'rate_limited' })
})

test('a local reply from on_response_headers replaces the response', async t => {
  const p = new Program()
  const op = p.localReply(RES, 418, { body: 'teapot', headers: [['x-lr', '1']], details: 'replaced' })
  const { app, logs } = await buildApp(t, { configs: [probe('p', p)] })
  const route = countingRoute(app)
  const res = await app.inject('/')
  t.equal(statusOf(logs, 'p', op), Ok)
  t.equal(route.runs, 1)
  t.equal(res.statusCode, 418)
  t.equal(res.body, 'teapot')
  t.equal(res.headers['x-lr'], '1')
  t.equal(res.headers['x-route'], undefined, 'the route\'s headers are gone')
  t.equal(res.headers['content-type'], 'text/plain; charset=utf-8')
  t.match(replyLogs(logs)[0], { filter: 'p', statusCode: 418, details: 'replaced' })
})

test('a local reply from on_log is ignored with Ok', async t => {
  const p = new Program()
  const op = p.localReply(Phase.Log, 500, { body: 'too late' })
  const { app, logs } = await buildApp(t, { configs: [probe('p', p)] })
  countingRoute(app)
  const res = await app.inject('/')
  t.equal(res.statusCode, 200)
  t.equal(res.body, 'route')
  await until(() => logs.filterMessages('p').some(m => m.startsWith(`op ${op} `)), 'on_log')
  t.equal(statusOf(logs, 'p', op), Ok)
  t.equal(replyLogs(logs).length, 0)
  t.ok(logs.lines.some(l => l.filter === 'p' && l.level === 40 && /ignored/.test(l.msg)), 'a warning says so')
})

test('a local reply from a root context (on_tick) with no effective stream context: Ok, ignored, a warning', async t => {
  const p = new Program()
  p.call(REQ, Fn.TickPeriod, [1])
  const op = p.localReply(Phase.Tick, 500, { body: 'from the root' })
  p.call(Phase.Tick, Fn.TickPeriod, [0])
  const { app, logs } = await buildApp(t, { configs: [probe('p', p)] })
  countingRoute(app)
  const res = await app.inject('/')
  t.equal(res.statusCode, 200)
  await until(() => callbacks(logs, 'p', Phase.Tick).length > 0, 'a tick')
  t.equal(statusOf(logs, 'p', op), Ok)
  const root = callbacks(logs, 'p', Phase.Tick)[0].ctx
  t.ok(logs.lines.some(l => l.filter === 'p' && l.level === 40 && l.context === root && /ignored/.test(l.msg)), 'a warning from the root context')
  t.equal(replyLogs(logs).length, 0)
  const again = await app.inject('/')
  t.equal(again.statusCode, 200, 'later requests are not answered by it either')
})

test('a local reply from on_tick after proxy_set_effective_context(stream) answers the paused request', async t => {
  const p = new Program()
  p.call(REQ, Fn.TickPeriod, [1])
  p.ret(REQ, 1)
  const effective = p.call(Phase.Tick, Fn.Effective, [v(Var.Stream)])
  const op = p.localReply(Phase.Tick, 409, { body: 'from the tick', details: 'tick_reply' })
  p.call(Phase.Tick, Fn.TickPeriod, [0])
  const { app, logs } = await buildApp(t, { configs: [probe('p', p)] })
  const route = countingRoute(app)
  const res = await app.inject('/')
  t.equal(statusOf(logs, 'p', effective), Ok)
  t.equal(statusOf(logs, 'p', op), Ok)
  t.equal(res.statusCode, 409)
  t.equal(res.body, 'from the tick')
  t.equal(route.runs, 0)
  t.match(replyLogs(logs)[0], { statusCode: 409, details: 'tick_reply' })
})

test('the serialized header map as a local reply body, byte for byte', async t => {
  const p = new Program()
  const pairs = p.getPairs(REQ, Maps.RequestHeaders)
  p.call(REQ, Fn.LocalReply, [200, 0, 0, v(Var.OutPtr), v(Var.OutSize), ...p.bytes(encodePairs([['content-type', 'application/octet-stream']])), -1])
  const { app, logs } = await buildApp(t, { configs: [probe('p', p)] })
  countingRoute(app)
  const res = await app.inject({ url: '/b?x=1', headers: { host: 'b.test', 'user-agent': 'ua' } })
  const expected = encodePairs([[':authority', 'b.test'], [':path', '/b?x=1'], [':method', 'GET'], [':scheme', 'http'], ['user-agent', 'ua']])
  t.same(result(logs, 'p', pairs).bytes, expected)
  t.same(res.rawPayload, expected)
  t.equal(res.headers['content-type'], 'application/octet-stream')
})

test('a 1xx local reply still gives the client a final response', async t => {
  const configs = [100, 101, 103].map(status => {
    const p = new Program()
    p.localReply(REQ, status, { body: 'informational' })
    return probe(`s${status}`, p)
  })
  const { app, logs } = await buildApp(t, { configs })
  for (const status of [100, 101, 103]) app.get(`/${status}`, { config: { proxyWasm: [`s${status}`] } }, async () => 'route')
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  for (const status of [100, 101, 103]) {
    const raw = await new Promise<string>(resolve => {
      const chunks: Buffer[] = []
      const s = connect(port, '127.0.0.1', () => s.end(`GET /${status} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`))
      s.on('data', c => chunks.push(c))
      // Hang detection only: a final response arrives at once or not at all.
      s.setTimeout(2000, () => s.destroy())
      s.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')))
    })
    const finals = raw.split('\r\n').filter(l => /^HTTP\/1\.1 [2-5]\d\d /.test(l))
    t.equal(statusOf(logs, `s${status}`, 0) === Ok ? finals.length : 1, 1, `${status}: a final status line (got ${JSON.stringify(raw.split('\r\n')[0])})`)
  }
})
