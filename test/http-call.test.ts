import { once } from 'node:events'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { test } from 'tap'
import { request } from 'undici'
import { parsePairs } from '../lib/abi/pairs'
import { buildApp, filter } from './helpers/app'
import { as, wat } from './helpers/fixtures'

interface Seen {
  method: string
  url: string
  headers: IncomingMessage['headers']
  rawHeaders: string[]
  body: string
}

type Handler = (req: IncomingMessage, res: ServerResponse, seen: Seen) => void

/** A real upstream on 127.0.0.1: records what it receives, answers with `handler`. */
async function upstream (t: { teardown: (fn: () => unknown) => void }, handler: Handler = (_req, res) => res.end('ok')) {
  const seen: Seen[] = []
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', c => chunks.push(c))
    req.on('end', () => {
      const s = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, rawHeaders: req.rawHeaders, body: Buffer.concat(chunks).toString() }
      seen.push(s)
      handler(req, res, s)
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => {
    server.closeAllConnections()
    server.close()
  })
  const { port } = server.address() as AddressInfo
  return { url: `http://127.0.0.1:${port}`, seen, server }
}

/** A port where nothing listens. */
async function closedPort (): Promise<string> {
  const s = createServer()
  s.listen(0, '127.0.0.1')
  await once(s, 'listening')
  const { port } = s.address() as AddressInfo
  s.close()
  await once(s, 'close')
  return `http://127.0.0.1:${port}`
}

async function until (cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    if (cond()) return
    await new Promise(resolve => setTimeout(resolve, 5))
  }
  throw new Error(`timed out waiting for ${what}`)
}

/** call-echo's binary report of what the filter saw in proxy_on_http_call_response. */
function report (raw: Buffer) {
  let at = 0
  const u32 = () => { const v = raw.readUInt32LE(at); at += 4; return v }
  const blob = () => { const n = u32(); const b = raw.subarray(at, at + n); at += n; return b }
  const pairs = (b: Buffer) => parsePairs(b, 0, b.length)
  const r = {
    token: u32(),
    numHeaders: u32(),
    bodySize: u32(),
    numTrailers: u32(),
    statusCode: u32(),
    statusMessage: blob().toString(),
    headers: pairs(blob()),
    trailers: pairs(blob()),
    body: blob().toString('latin1'),
    addHeaderStatus: u32(),
    setBodyStatus: u32(),
    getBodyStatus: u32()
  }
  return r
}

const echo = (clusters: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
  ({ configs: [filter('echo', wat('call-echo'))], clusters, ...extra }) as any

test('a call from on_request_headers: the upstream sees the request line, headers and body; the filter reads status, headers, body and trailers', async t => {
  const up = await upstream(t, (_req, res) => {
    res.writeHead(201, { 'x-up': 'yes', 'set-cookie': ['a=1', 'b=2'], trailer: 'x-checksum', 'content-type': 'text/plain' })
    res.addTrailers({ 'x-checksum': 'abc' })
    res.end('hello from upstream')
  })
  const { app, logs } = await buildApp(t, echo({ up: up.url }))
  let handled = 0
  app.get('/*', async () => { handled++; return 'handler' })
  const res = await app.inject({
    method: 'GET',
    url: '/check?x=1',
    headers: { host: 'api.example', 'x-custom': 'v1', 'x-call-body': 'payload' }
  })
  t.equal(res.statusCode, 200)
  t.equal(handled, 0, 'the callback answered instead of the route')
  t.equal(up.seen.length, 1)
  const seen = up.seen[0]
  t.equal(seen.method, 'GET')
  t.equal(seen.url, '/check?x=1')
  t.equal(seen.headers.host, 'api.example', ':authority becomes host')
  t.equal(seen.headers['x-custom'], 'v1')
  t.equal(seen.body, 'payload')
  t.equal(seen.headers['content-length'], '7')
  t.notOk(seen.rawHeaders.some(h => h.startsWith(':')), 'no pseudo-headers on the wire')

  const r = report(res.rawPayload)
  t.equal(r.token, 4, 'the first token of the VM')
  t.equal(r.bodySize, 19)
  t.equal(r.body, 'hello from upstream')
  t.equal(r.numTrailers, 1)
  t.same(r.trailers, ['x-checksum', 'abc'])
  t.equal(r.headers?.[0], ':status')
  t.equal(r.headers?.[1], '201')
  const names = r.headers!.filter((_, i) => i % 2 === 0)
  t.equal(r.numHeaders, names.length, 'num_headers counts every entry, :status included')
  t.equal(r.headers![r.headers!.indexOf('x-up') + 1], 'yes')
  t.same(r.headers!.filter((_, i) => i > 0 && r.headers![i - 1] === 'set-cookie'), ['a=1', 'b=2'], 'repeated headers stay separate entries')
  t.equal(r.statusCode, 0)
  t.equal(r.statusMessage, '')
  t.equal(r.addHeaderStatus, 2, 'map 6 is read-only: BadArgument')
  t.equal(r.setBodyStatus, 2, 'buffer 4 is read-only: BadArgument')
  t.equal(r.getBodyStatus, 0)
  t.ok(logs.filterMessages('echo').includes('map 6 after the callback: 2'), 'map 6 is gone once the callback returned')
})

/** An auth service: `Bearer <user>` is allowed as <user> unless the user is "mallory". */
async function authService (t: { teardown: (fn: () => unknown) => void }) {
  return upstream(t, (req, res) => {
    const user = String(req.headers.authorization ?? '').replace(/^Bearer /, '')
    // Answers out of order, so pauses overlap.
    setTimeout(() => {
      if (user === '' || user === 'mallory') res.writeHead(401).end(`no entry for ${user === '' ? 'anonymous' : user}`)
      else res.writeHead(200, { 'x-user': user }).end()
    }, user.length)
  })
}

const auth = (cluster: string, clusters: Record<string, unknown>) =>
  ({ configs: [filter('http-auth', as('http-auth'), { configuration: cluster })], clusters }) as any

test('AssemblyScript auth filter: pause, call out, then continue with the answer or deny from the callback', async t => {
  const svc = await authService(t)
  const { app } = await buildApp(t, auth('auth', { auth: svc.url }), { level: 'info' })
  let handled = 0
  app.get('/api/*', async (req) => { handled++; return `hello ${req.headers['x-auth-user']}` })

  const ok = await app.inject({ url: '/api/orders?id=3', headers: { authorization: 'Bearer alice' } })
  t.equal(ok.statusCode, 200)
  t.equal(ok.body, 'hello alice', 'continued, with the header the callback added')
  const seen = svc.seen[0]
  t.equal(seen.method, 'GET')
  t.equal(seen.url, '/check')
  t.equal(seen.headers.host, 'auth.internal')
  t.equal(seen.headers.authorization, 'Bearer alice')
  t.equal(seen.headers['x-original-path'], '/api/orders?id=3')

  const denied = await app.inject({ url: '/api/orders', headers: { authorization: 'Bearer mallory' } })
  t.equal(denied.statusCode, 403)
  t.equal(denied.body, 'no entry for mallory', 'the callback replied with the answer body')
  t.equal(handled, 1)

  // Concurrent requests: each resumes (or is denied) on its own answer.
  const users = ['bob', 'mallory', 'carol', '', 'dave', 'mallory', 'erin', 'frank']
  const results = await Promise.all(users.map(u => app.inject({ url: '/api/x', headers: u === '' ? {} : { authorization: `Bearer ${u}` } })))
  results.forEach((res, i) => {
    const u = users[i]
    if (u === '' || u === 'mallory') t.same([res.statusCode, res.body], [403, `no entry for ${u === '' ? 'anonymous' : u}`])
    else t.same([res.statusCode, res.body], [200, `hello ${u}`])
  })
  t.equal(app.proxyWasm.stats()[0].streamContexts, 0)
  t.notOk(app.proxyWasm.stats()[0].failed)
})

test('AssemblyScript auth filter: an unreachable auth service fails closed, an unknown cluster is refused', async t => {
  const { app, logs } = await buildApp(t, auth('auth', { auth: await closedPort() }), { level: 'info' })
  app.get('/', async () => 'handler')
  const res = await app.inject({ url: '/', headers: { authorization: 'Bearer alice' } })
  t.same([res.statusCode, res.body], [503, 'auth unavailable'])
  t.ok(logs.lines.some(l => l.level === 40 && l.filter === 'http-auth' && /cluster "auth" failed \(token 4\): connection refused/.test(l.msg)))

  const { app: other, logs: otherLogs } = await buildApp(t, auth('nope', { auth: 'http://127.0.0.1:1' }), { level: 'info' })
  other.get('/', async () => 'handler')
  const refused = await other.inject({ url: '/' })
  t.same([refused.statusCode, refused.body], [500, 'auth call refused'])
  t.ok(otherLogs.lines.some(l => l.level === 40 && /filter http-auth asked for unknown cluster "nope"/.test(l.msg)))
  t.ok(otherLogs.filterMessages('http-auth').includes('auth call refused: 2'), 'the SDK saw BadArgument')
})

test('buffer 4 honours start and max_size, read from the stream or from the root context', async t => {
  const up = await upstream(t, (_req, res) => res.end('0123456789'))
  const { app } = await buildApp(t, echo({ up: up.url }))
  app.get('/', async () => 'handler')
  const cases: Array<[Record<string, string>, string]> = [
    [{}, '0123456789'],
    [{ 'x-start': '2', 'x-max': '3' }, '234'],
    [{ 'x-start': '8', 'x-max': '100' }, '89'],
    [{ 'x-start': '10' }, ''],
    [{ 'x-start': '20', 'x-max': '5' }, ''],
    [{ 'x-max': '0' }, '']
  ]
  for (const readAs of [{}, { 'x-read-as': 'root' }]) {
    for (const [headers, body] of cases) {
      const res = await app.inject({ url: '/', headers: { ...headers, ...readAs } })
      const r = report(res.rawPayload)
      t.equal(r.body, body, `${JSON.stringify({ ...headers, ...readAs })} -> ${JSON.stringify(body)}`)
      t.equal(r.getBodyStatus, 0)
      t.equal(r.bodySize, 10)
    }
  }
})

test('calls from on_configure and on_tick are answered to the root context', async t => {
  const up = await upstream(t, (req, res) => res.end(`ok ${req.url}`))
  const { app, logs } = await buildApp(t, { configs: [filter('root', wat('call-root'), { configuration: 'up' })], clusters: { up: up.url } } as any)
  await app.ready()
  await until(() => logs.filterMessages('root').filter(m => m.startsWith('response')).length === 2, 'two answers')
  t.same(up.seen.map(s => s.url).sort(), ['/configure', '/tick'])
  t.equal(up.seen[0].headers.host, 'root.test')
  const messages = logs.filterMessages('root')
  t.ok(messages.includes('configure call 0 token 4'))
  t.ok(messages.includes('tick call 0 token 8'))
  const answers = logs.lines.filter(l => l.filter === 'root' && l.msg.startsWith('response'))
  const rootId = answers[0].context
  t.ok(rootId !== undefined && rootId > 0)
  for (const l of answers) t.equal(l.context, rootId, 'delivered to the root context')
  const configure = answers.find(l => l.msg.includes('token 4'))!.msg
  t.match(configure, new RegExp(`^response context ${rootId} token 4 headers \\d+ code 0 body ok /configure$`))
  t.match(answers.find(l => l.msg.includes('token 8'))!.msg, /token 8 headers \d+ code 0 body ok \/tick$/)
})

test('edge cases of proxy_http_call answer the documented status before anything is sent', async t => {
  const up = await upstream(t)
  const { app, logs } = await buildApp(t, { configs: [filter('edge', wat('call-edge'))], clusters: { up: up.url } } as any)
  app.get('/', async () => 'handler')
  const BEEF = 3735928559
  const cases: Array<[number, string, number, number | 'token']> = [
    [1, 'unknown cluster', 2, 0],
    [2, 'no :method', 2, 0],
    [3, 'no :path', 2, 0],
    [4, 'no :authority', 2, 0],
    [5, 'token pointer out of memory', 6, BEEF],
    [6, 'cluster pointer out of memory', 6, 0],
    [7, 'headers pointer out of memory', 6, 0],
    [8, 'body pointer out of memory', 6, 0],
    [9, 'trailers pointer out of memory', 6, 0],
    [10, 'timeout 2^31', 2, 0],
    [11, 'malformed header pairs', 2, 0],
    [12, 'a header value with CR', 2, 0],
    [13, ':status among request headers', 2, 0],
    [14, 'a pseudo-header among trailers', 2, 0],
    [17, 'an empty cluster name', 2, 0],
    [18, 'OPTIONS * (not origin-form)', 2, 0],
    [19, 'CONNECT', 2, 0]
  ]
  for (const [n, what, status, token] of cases) {
    const res = await app.inject({ url: '/', headers: { 'x-edge': String(n) } })
    t.equal(res.body, `${status} ${token}`, `${what}: status ${status}, token slot ${token === 0 ? 'zeroed' : 'untouched'}`)
  }
  t.equal(up.seen.length, 0, 'nothing was sent')
  const warning = logs.lines.find(l => l.level === 40 && l.msg.includes('unknown cluster'))
  t.ok(warning, 'an unknown cluster is logged')
  t.equal(warning?.filter, 'edge')
  t.match(warning?.msg, /filter edge asked for unknown cluster "nope"; configured clusters: up/)

  const max = await app.inject({ url: '/', headers: { 'x-edge': '15' } })
  t.equal(max.body, '0 4', 'timeout 2^31 - 1 is accepted')
  const body = await app.inject({ url: '/', headers: { 'x-edge': '16' } })
  t.equal(body.body, '0 8', 'tokens go 4, 8, ...')
  await until(() => up.seen.length === 2, 'two calls')
  const withBody = up.seen.find(s => s.body === 'hello')
  t.equal(withBody?.headers['content-length'], '5')
  t.equal(withBody?.url, '/edge')
  t.equal(withBody?.headers.host, 'edge.test')
})

test('without clusters configured every call answers BadArgument and says so', async t => {
  const { app, logs } = await buildApp(t, { configs: [filter('edge', wat('call-edge'))] })
  app.get('/', async () => 'handler')
  const res = await app.inject({ url: '/' })
  t.equal(res.body, '2 0')
  t.ok(logs.lines.some(l => l.level === 40 && /unknown cluster "up"; no clusters are configured \(options\.clusters\)/.test(l.msg)))
})

test('a timeout calls back with nothing, reports BrokenConnection "timeout" and logs a warning', async t => {
  const slow = await upstream(t, () => {})
  const { app, logs } = await buildApp(t, echo({ slow: slow.url, slowDefault: { url: slow.url, timeout: 50 } }))
  app.get('/', async () => 'handler')
  for (const headers of [{ 'x-cluster': 'slow', 'x-timeout': '50' }, { 'x-cluster': 'slowDefault' }]) {
    const res = await app.inject({ url: '/', headers })
    t.equal(res.statusCode, 200)
    const r = report(res.rawPayload)
    t.same([r.numHeaders, r.bodySize, r.numTrailers], [0, 0, 0], `${headers['x-cluster']}: no headers, body or trailers`)
    t.equal(r.statusCode, 11)
    t.equal(r.statusMessage, 'timeout')
    t.same(r.headers, [], 'map 6 reads as empty')
    t.equal(r.body, '')
  }
  const warnings = logs.lines.filter(l => l.level === 40 && l.msg.includes('failed'))
  t.equal(warnings.length, 2)
  t.match(warnings[0].msg, /proxy_http_call to cluster "slow" failed \(token \d+\): timeout: no complete response within 50 ms/)
  t.equal(warnings[0].filter, 'echo')
  t.ok(warnings[0].reqId, 'logged with the request')
})

test('a refused connection and an upstream reset call back with nothing and say what happened', async t => {
  const reset = await upstream(t, (_req, res) => {
    res.writeHead(200, { 'content-length': '100' })
    res.write('partial')
    setTimeout(() => res.socket?.destroy(), 10)
  })
  const early = await upstream(t, (req) => req.socket.destroy())
  const { app, logs } = await buildApp(t, echo({ closed: await closedPort(), reset: reset.url, early: early.url }))
  app.get('/', async () => 'handler')
  const expected: Record<string, string> = { closed: 'connection refused', reset: 'reset', early: 'reset' }
  for (const [cluster, message] of Object.entries(expected)) {
    const res = await app.inject({ url: '/', headers: { 'x-cluster': cluster } })
    const r = report(res.rawPayload)
    t.same([r.numHeaders, r.bodySize, r.numTrailers, r.statusCode, r.statusMessage], [0, 0, 0, 11, message], cluster)
    t.ok(logs.lines.some(l => l.level === 40 && l.msg.includes(`cluster "${cluster}" failed`) && l.msg.includes(`: ${message}: `)), `${cluster} is logged`)
  }
  // The next good call reports Ok again.
  const ok = await upstream(t)
  const { app: app2 } = await buildApp(t, echo({ ok: ok.url, closed: await closedPort() }))
  app2.get('/', async () => 'handler')
  await app2.inject({ url: '/', headers: { 'x-cluster': 'closed' } })
  const good = report((await app2.inject({ url: '/', headers: { 'x-cluster': 'ok' } })).rawPayload)
  t.same([good.statusCode, good.statusMessage, good.body], [0, '', 'ok'], 'proxy_get_status is back to Ok after a success')
})

test('a response body over bodyLimit fails the call', async t => {
  const big = await upstream(t, (_req, res) => res.end('x'.repeat(5000)))
  const { app, logs } = await buildApp(t, echo({ big: big.url }, { bodyLimit: 1000 }))
  app.get('/', async () => 'handler')
  const r = report((await app.inject({ url: '/', headers: { 'x-cluster': 'big' } })).rawPayload)
  t.same([r.numHeaders, r.bodySize, r.statusCode, r.statusMessage], [0, 0, 11, 'response too large'])
  t.ok(logs.lines.some(l => l.level === 40 && /over the 1000-byte limit \(bodyLimit\)/.test(l.msg)))
})

test('request trailers given by the filter are reported as not sent', async t => {
  const up = await upstream(t)
  const { app, logs } = await buildApp(t, echo({ up: up.url }))
  app.get('/', async () => 'handler')
  const r = report((await app.inject({ url: '/', headers: { 'x-call-trailer': 'sum' } })).rawPayload)
  t.equal(r.body, 'ok', 'the call itself goes out')
  t.ok(logs.lines.some(l => l.level === 40 && /1 request trailer\(s\) are not sent/.test(l.msg)))
})

test('many concurrent calls get distinct tokens and each answer reaches its own request', async t => {
  // Answers come back in reverse order.
  const up = await upstream(t, (req, res) => {
    const n = Number(req.url!.split('/')[2])
    setTimeout(() => res.end(`answer ${n}`), (40 - n) * 2)
  })
  const { app } = await buildApp(t, echo({ up: up.url }), { level: 'warn' })
  app.get('/n/:n', async (req) => `handler ${(req.params as { n: string }).n}`)
  const results = await Promise.all(Array.from({ length: 40 }, (_, n) =>
    app.inject({ url: `/n/${n}`, headers: n % 2 === 0 ? {} : { 'x-then': 'continue' } })))
  const tokens = new Set<number>()
  results.forEach((res, n) => {
    if (n % 2 === 0) {
      const r = report(res.rawPayload)
      t.equal(r.body, `answer ${n}`)
      tokens.add(r.token)
    } else {
      t.equal(res.body, `handler ${n}`, 'continued after its own call')
    }
  })
  t.equal(tokens.size, 20, 'distinct tokens')
  for (const tk of tokens) t.equal(tk % 4, 0, 'HTTP call tokens are multiples of 4')
  t.equal(app.proxyWasm.stats()[0].streamContexts, 0)
})

test('a client that hangs up while its call is pending: the stream is cleaned up and the answer is not delivered to it', async t => {
  let release: (() => void) | undefined
  const up = await upstream(t, (_req, res) => { release = () => res.end('late') })
  const { app, logs } = await buildApp(t, echo({ up: up.url }))
  app.get('/', async () => 'handler')
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  const ac = new AbortController()
  const client = request(`http://127.0.0.1:${port}/`, { signal: ac.signal }).catch(err => err)
  await until(() => release !== undefined, 'the call to reach the upstream')
  t.equal(app.proxyWasm.stats()[0].streamContexts, 1)
  ac.abort()
  t.ok(await client instanceof Error, 'the client gave up')
  await until(() => app.proxyWasm.stats()[0].streamContexts === 0, 'the stream to be cleaned up')
  // The answer arrives after the stream is gone: call-echo would trap if it were delivered.
  release!()
  await until(() => logs.lines.some(l => l.msg.includes('answer dropped')), 'the answer to arrive')
  t.match(logs.lines.find(l => l.msg.includes('answer dropped'))?.msg, /cluster "up" \(token 4\): answer dropped, context \d+ that made the call has ended/)
  t.notOk(logs.filterMessages('echo').some(m => m.startsWith('http call response')), 'no callback')
  t.notOk(app.proxyWasm.stats()[0].failed, 'the VM is fine')
  t.same(logs.lines.filter(l => l.level >= 50), [], 'no errors')
  // The VM goes on calling out.
  release = undefined
  const next = request(`http://127.0.0.1:${port}/`)
  await until(() => release !== undefined, 'the next call')
  release!()
  const res = await next
  t.equal(report(Buffer.from(await res.body.arrayBuffer())).body, 'late')
})

test('a call made by a request that has finished still goes out (e.g. from on_log)', async t => {
  const up = await upstream(t)
  const { app } = await buildApp(t, { configs: [filter('edge', wat('call-edge'))], clusters: { up: up.url } } as any)
  app.get('/', async () => 'handler')
  // call-edge answers the request at once, before its call completes.
  const res = await app.inject({ url: '/' })
  t.equal(res.body, '0 4')
  t.equal(app.proxyWasm.stats()[0].streamContexts, 0)
  await until(() => up.seen.length === 1, 'the call')
  t.equal(up.seen[0].url, '/edge')
})

test('app.close() cancels calls in flight after the grace period: no callback afterwards, no hang, held requests get a 503', async t => {
  const closed: string[] = []
  const slow = await upstream(t, (req, res) => { res.on('close', () => closed.push(req.url!)) })
  const { app, logs } = await buildApp(t, {
    configs: [filter('root', wat('call-root'), { configuration: 'slow' }), filter('echo', wat('call-echo'))],
    clusters: { slow: slow.url },
    shutdownGraceMs: 50
  } as any)
  app.get('/', async () => 'handler')
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  const client = request(`http://127.0.0.1:${port}/`, { headers: { 'x-cluster': 'slow' } }).then(r => r.statusCode, err => err)
  await until(() => slow.seen.length === 3, 'configure, tick and request calls in flight')
  await app.close()
  t.equal(await client, 503, 'the held request got a 503')
  await until(() => closed.length === 3, 'every upstream request to be aborted')
  t.same(closed.sort(), ['/', '/configure', '/tick'])
  await new Promise(resolve => setTimeout(resolve, 20))
  t.notOk(logs.lines.some(l => l.msg.startsWith('response context') || l.msg.startsWith('http call response')), 'no callback after close')
  t.same(logs.lines.filter(l => l.level >= 50), [], 'no errors')
})

test('calls reuse pooled keep-alive connections', async t => {
  const up = await upstream(t)
  let connections = 0
  up.server.on('connection', () => { connections++ })
  const { app } = await buildApp(t, echo({ up: up.url }), { level: 'warn' })
  app.get('/', async () => 'handler')
  for (let i = 0; i < 10; i++) t.equal(report((await app.inject({ url: '/' })).rawPayload).body, 'ok')
  t.equal(up.seen.length, 10)
  t.ok(connections < 10, `${connections} connection(s) for ten calls in a row`)
})

test('a VM that fails aborts its calls in flight; their answers are never delivered', async t => {
  const closed: string[] = []
  const held = await upstream(t, (req, res) => { res.on('close', () => closed.push(req.url!)) })
  const { app, logs } = await buildApp(t, echo({ up: held.url }), { level: 'warn' })
  app.get('/*', async () => 'handler')
  const waiting = app.inject({ url: '/waiting' })
  await until(() => held.seen.length === 1, 'the call to reach the upstream')
  const trap = await app.inject({ url: '/trap', headers: { 'x-trap': '1' } })
  t.equal(trap.statusCode, 503)
  const res = await waiting
  t.equal(res.statusCode, 503, 'the paused request fails closed')
  await until(() => closed.length === 1, 'the call to be aborted')
  t.same(closed, ['/waiting'])
  t.notOk(logs.lines.some(l => l.msg.startsWith('http call response')))
})

test('options.clusters is validated', async t => {
  const bad: Array<[unknown, RegExp]> = [
    [[], /^options\.clusters: expected an object mapping cluster names to URLs, got a list$/],
    [{ a: 'ftp://x' }, /^options\.clusters\.a: expected an http:\/\/ or https:\/\/ URL with no path, query or credentials, got string "ftp:\/\/x"$/],
    [{ a: 'not a url' }, /^options\.clusters\.a: expected an http/],
    [{ a: { url: 'http://127.0.0.1:1/path' } }, /^options\.clusters\.a\.url: expected an http/],
    [{ a: { url: 'http://u:p@127.0.0.1:1' } }, /^options\.clusters\.a\.url: expected/],
    [{ a: { url: 'http://127.0.0.1:1', timeout: -1 } }, /^options\.clusters\.a\.timeout: expected an integer number of milliseconds from 0 to 2147483647, got number -1$/],
    [{ a: { url: 'http://127.0.0.1:1', timeout: 1.5 } }, /^options\.clusters\.a\.timeout: expected an integer/],
    [{ a: { url: 'http://127.0.0.1:1', retries: 1 } }, /^options\.clusters\.a\.retries: unknown key; expected url or timeout$/],
    [{ a: 5 }, /^options\.clusters\.a: expected a URL string or \{ url, timeout \}, got number 5$/],
    [{ 'my.cluster': 'http://127.0.0.1:1/x' }, /^options\.clusters\["my\.cluster"\]: expected/]
  ]
  for (const [clusters, message] of bad) {
    await t.rejects(buildApp(t, { configs: [], clusters } as any), { code: 'FST_PROXY_WASM_INVALID_CONFIG', message }, JSON.stringify(clusters))
  }
  // Accepted: a URL with a trailing slash, and https.
  await buildApp(t, { configs: [], clusters: { a: 'http://127.0.0.1:1/', b: { url: 'https://example.test', timeout: 0 } } } as any)
  t.pass('good clusters are accepted')
})
