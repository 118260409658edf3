import { once } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { test } from 'tap'
import { request } from 'undici'
import { parsePairs } from '../lib/abi/pairs'
import { buildApp, filter, type logCapture } from './helpers/app'
import { wat } from './helpers/fixtures'
import { finish, frame, grpcServer, respond, trailersOnly } from './helpers/grpc-server'

type Logs = ReturnType<typeof logCapture>

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

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms))
const hex = (s: string) => Buffer.from(s).toString('hex')
const pairsOf = (h: string) => parsePairs(Buffer.from(h, 'hex'), 0, h.length / 2)

/** What grpc-echo logged, minus the lines about dispatching. */
function events (logs: Logs, name = 'echo'): string[] {
  return logs.filterMessages(name).filter(m => /^(initial|message|trailing|close|cancel) /.test(m))
}

/** grpc-echo's "initial|trailing <token> <n> <status> <hex pairs>" as its parts. */
function metadataLine (line: string | undefined) {
  const [kind, token, n, status, h = ''] = (line ?? '').split(' ')
  return { kind, token: Number(token), n: Number(n), status: Number(status), pairs: pairsOf(h) }
}

/** Value of `name` in flat pairs. */
const valueOf = (pairs: string[] | null, name: string) => pairs?.[pairs.indexOf(name) + 1]

const echo = (clusters: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
  ({ configs: [filter('echo', wat('grpc-echo'))], clusters, ...extra }) as any

test('a unary call: the server sees path, metadata and the framed message; the filter reads the answer from buffer 5', async t => {
  const srv = await grpcServer(t, call => {
    call.onEnd = () => {
      respond(call, { 'x-init': 'i' })
      call.stream.write(frame(`hello ${call.messages[0]}`))
      finish(call, 0, undefined, { 'x-trail': 't' })
    }
  })
  const { app, logs } = await buildApp(t, echo({ up: srv.url }))
  app.get('/', async () => 'handler')
  for (const readAs of [{}, { 'x-read-as': 'stream' }]) {
    const before = events(logs).length
    const res = await app.inject({ url: '/', headers: { 'x-msg': 'wasm', 'x-md': 'v1', 'x-timeout': '5000', ...readAs } })
    t.equal(res.body, 'handler', 'the request went on after the answer')
    const [line] = events(logs).slice(before)
    const [kind, token, size, getSt, setSt, bytes] = line.split(' ')
    t.equal(kind, 'message', 'a successful call gets proxy_on_grpc_receive and no close')
    t.equal(Number(token) % 4, 1, 'call tokens are 5, 9, 13, ...')
    t.same([size, getSt, setSt], ['10', '0', '2'], 'size, get_buffer_bytes Ok, set_buffer_bytes BadArgument (read-only)')
    t.equal(Buffer.from(bytes, 'hex').toString(), 'hello wasm')
    t.equal(events(logs).length, before + 1, 'no metadata callbacks for a unary call (Envoy)')
  }
  t.equal(srv.calls.length, 2)
  const seen = srv.calls[0]
  t.equal(seen.path, '/test.Echo/Say')
  t.equal(seen.headers[':method'], 'POST')
  t.equal(seen.headers['content-type'], 'application/grpc')
  t.equal(seen.headers.te, 'trailers')
  t.equal(seen.headers['grpc-timeout'], '5000m')
  t.same(seen.rawHeaders.filter((_, i) => i > 0 && seen.rawHeaders[i - 1] === 'x-md'), ['v1', 'again'], 'metadata pairs in order, duplicates kept')
  t.same(seen.messages.map(String), ['wasm'])
  t.ok(seen.ended)
  t.equal(srv.sessionCount, 1, 'both calls used one HTTP/2 connection')
  t.same(logs.filterMessages('echo').filter(m => m.startsWith('call ')), ['call 0 token 5', 'call 0 token 9'])
  t.equal(app.proxyWasm.stats()[0].streamContexts, 0)
  // The server closes the connection gracefully (GOAWAY): the next call opens a new one.
  for (const s of srv.sessions) s.close()
  await until(() => srv.sessions.size === 0, 'the connection to close')
  t.equal((await app.inject({ url: '/', headers: { 'x-msg': 'again' } })).body, 'handler')
  t.equal(events(logs).at(-1), `message 13 11 0 2 ${hex('hello again')}`)
  t.equal(srv.sessionCount, 2)
})

test('a unary call answered with a gRPC error: proxy_on_grpc_close with the status, proxy_get_status gives the message', async t => {
  const srv = await grpcServer(t, call => {
    call.onEnd = () => {
      const what = String(call.messages[0])
      if (what === 'only') trailersOnly(call, 5, 'no%20such%20thing%3A%20caf%C3%A9')
      else finish(call, 7, 'go away', { 'x-why': 'policy' })
    }
  })
  const { app, logs } = await buildApp(t, echo({ up: srv.url }))
  app.get('/', async () => 'handler')
  t.equal((await app.inject({ url: '/', headers: { 'x-msg': 'only' } })).body, 'handler')
  t.equal((await app.inject({ url: '/', headers: { 'x-msg': 'full' } })).body, 'handler')
  t.same(events(logs), [
    'close 5 5 5 2 1 no such thing: café',
    'close 9 7 7 2 1 go away'
  ], 'status, get_status code and percent-decoded message; map 5 and buffer 5 are not available in on_grpc_close')
  t.notOk(logs.lines.some(l => l.level >= 40), 'an error status from the service is not a host warning')
})

test('a server-streaming call: initial metadata, each message, trailing metadata, then close', async t => {
  const srv = await grpcServer(t, call => {
    call.onEnd = () => {
      respond(call, { 'x-init': 'i' })
      for (const m of ['one', 'two', 'three']) call.stream.write(frame(`${m}:${call.messages[0]}`))
      finish(call, 0, undefined, { 'x-trail': 't' })
    }
  })
  const { app, logs } = await buildApp(t, echo({ up: srv.url }))
  app.get('/', async () => 'handler')
  for (const readAs of [{}, { 'x-read-as': 'stream' }]) {
    const before = events(logs).length
    const res = await app.inject({ url: '/', headers: { 'x-kind': 'stream', 'x-service': 'test.Feed', 'x-method': 'List', 'x-send': 'q', 'x-end': 's', ...readAs } })
    t.equal(res.body, 'handler')
    const ev = events(logs).slice(before)
    t.equal(ev.length, 6, ev.join('\n'))
    const initial = metadataLine(ev[0])
    const token = initial.token
    t.equal(token % 4, 2, 'stream tokens are 6, 10, 14, ...')
    t.equal(initial.kind, 'initial')
    t.equal(initial.status, 2, 'map 4 is read-only')
    t.equal(initial.pairs?.[0], ':status')
    t.equal(initial.pairs?.[1], '200')
    t.equal(valueOf(initial.pairs, 'content-type'), 'application/grpc')
    t.equal(valueOf(initial.pairs, 'x-init'), 'i')
    t.equal(initial.n, initial.pairs!.length / 2, 'num_elements counts every entry')
    t.same(ev.slice(1, 4), ['one:q', 'two:q', 'three:q'].map(m => `message ${token} ${m.length} 0 2 ${hex(m)}`))
    const trailing = metadataLine(ev[4])
    t.same([trailing.kind, trailing.token, trailing.status], ['trailing', token, 2], 'map 4 is gone in the trailing callback')
    t.same(trailing.pairs, ['grpc-status', '0', 'x-trail', 't'])
    t.equal(trailing.n, 2)
    t.equal(ev[5], `close ${token} 0 0 2 1 `)
  }
  t.equal(srv.calls[0].path, '/test.Feed/List')
  t.same(srv.calls[0].messages.map(String), ['q'])
  t.ok(srv.calls[0].ended, 'end_stream half-closed the stream')
  t.same(logs.filterMessages('echo').filter(m => m.startsWith('send')), ['send 6 0', 'send 10 0'])
})

test('a bidi stream: messages both ways, proxy_grpc_close half-closes and answers still arrive', async t => {
  const srv = await grpcServer(t, call => {
    respond(call, { 'x-init': 'now' })
    call.onMessage = m => call.stream.write(frame(`echo:${m}`))
    call.onEnd = () => setTimeout(() => finish(call, 0, 'done'), 10)
  })
  const { app, logs } = await buildApp(t, echo({ up: srv.url }))
  app.get('/', async () => 'handler')
  const res = await app.inject({ url: '/', headers: { 'x-kind': 'stream', 'x-send': 'a,bb,ccc', 'x-end': 'c', 'x-md': 'bidi' } })
  t.equal(res.body, 'handler')
  const msgs = logs.filterMessages('echo')
  t.same(msgs.filter(m => /^(send|half-close)/.test(m)), ['send 6 0', 'send 6 0', 'send 6 0', 'half-close 6 0'])
  const ev = events(logs)
  t.equal(metadataLine(ev[0]).kind, 'initial')
  t.equal(valueOf(metadataLine(ev[0]).pairs, 'x-init'), 'now')
  t.same(ev.slice(1, 4), ['echo:a', 'echo:bb', 'echo:ccc'].map(m => `message 6 ${m.length} 0 2 ${hex(m)}`), 'messages after the half-close are delivered')
  t.same(metadataLine(ev[4]).pairs, ['grpc-status', '0', 'grpc-message', 'done'])
  t.equal(ev[5], 'close 6 0 0 2 1 done')
  t.equal(ev.length, 6)
  const seen = srv.calls[0]
  t.same(seen.messages.map(String), ['a', 'bb', 'ccc'])
  t.ok(seen.ended)
  t.equal(seen.headers['grpc-timeout'], undefined, 'a stream has no deadline')
  t.equal(seen.headers['x-md'], 'bidi, again')
})

test('proxy_grpc_cancel stops the events of a stream and resets it', async t => {
  const srv = await grpcServer(t, call => {
    respond(call)
    let n = 0
    const timer = setInterval(() => { if (!call.stream.destroyed) call.stream.write(frame(`tick ${n++}`)) }, 5)
    call.stream.on('close', () => clearInterval(timer))
  })
  const { app, logs } = await buildApp(t, echo({ up: srv.url }))
  app.get('/', async () => 'handler')
  // From an event: the first message cancels.
  const res = await app.inject({ url: '/', headers: { 'x-kind': 'stream', 'x-send': 'go', 'x-cancel-at-message': '1' } })
  t.equal(res.body, 'handler')
  await until(() => srv.calls[0].closed !== undefined, 'the server to see the reset')
  t.equal(srv.calls[0].closed, 8, 'RST_STREAM CANCEL')
  await sleep(30)
  t.same(events(logs).slice(1), [`message 6 6 0 2 ${hex('tick 0')}`, 'cancel 6 0'], 'nothing after the cancel')
  t.notOk(events(logs).some(m => m.startsWith('close')), 'no close event either')
  // Right after opening, from the request.
  const before = events(logs).length
  t.equal((await app.inject({ url: '/', headers: { 'x-kind': 'stream', 'x-send': 'x', 'x-end': 'x' } })).body, 'handler')
  t.ok(logs.filterMessages('echo').includes('cancel 10 0'))
  await until(() => srv.calls.length === 2 && srv.calls[1].closed !== undefined, 'the second stream to be reset')
  await sleep(30)
  t.same(events(logs).slice(before), ['cancel 10 0'], 'no events at all')
  t.notOk(logs.lines.some(l => l.level >= 40))
})

test('messages split across DATA frames and several messages in one frame', async t => {
  const srv = await grpcServer(t, call => {
    call.onEnd = () => {
      respond(call)
      const big = frame('a message split in three')
      const second = frame('second')
      const third = frame('')
      const fourth = frame('fourth')
      const s = call.stream
      s.write(big.subarray(0, 3))
      setTimeout(() => s.write(big.subarray(3, 12)), 10)
      setTimeout(() => s.write(Buffer.concat([big.subarray(12), second, third, fourth.subarray(0, 7)])), 20)
      setTimeout(() => { s.write(fourth.subarray(7)); finish(call, 0) }, 30)
    }
  })
  const { app, logs } = await buildApp(t, echo({ up: srv.url }))
  app.get('/', async () => 'handler')
  await app.inject({ url: '/', headers: { 'x-kind': 'stream', 'x-send': 's', 'x-end': 's' } })
  t.same(events(logs).filter(m => m.startsWith('message')), [
    `message 6 24 0 2 ${hex('a message split in three')}`,
    `message 6 6 0 2 ${hex('second')}`,
    'message 6 0 0 2 ',
    `message 6 6 0 2 ${hex('fourth')}`
  ])
  t.equal(events(logs).at(-1), 'close 6 0 0 2 1 ')
})

test('a unary answer split across frames is delivered whole; a response ending inside a message is Internal', async t => {
  const srv = await grpcServer(t, call => {
    call.onEnd = () => {
      respond(call)
      const m = frame('pieces of one message')
      if (String(call.messages[0]) === 'cut') {
        call.stream.write(m.subarray(0, 10))
        setTimeout(() => finish(call, 0), 10)
        return
      }
      call.stream.write(m.subarray(0, 2))
      setTimeout(() => call.stream.write(m.subarray(2, 9)), 10)
      setTimeout(() => { call.stream.write(m.subarray(9)); finish(call, 0) }, 20)
    }
  })
  const { app, logs } = await buildApp(t, echo({ up: srv.url }))
  app.get('/', async () => 'handler')
  await app.inject({ url: '/', headers: { 'x-msg': 'whole' } })
  await app.inject({ url: '/', headers: { 'x-msg': 'cut' } })
  t.same(events(logs), [
    `message 5 21 0 2 ${hex('pieces of one message')}`,
    'close 9 13 13 2 1 the response ended inside a message'
  ])
})

test('deadline exceeded: a call that gets no answer in time closes with DeadlineExceeded (4) and is reset', async t => {
  const srv = await grpcServer(t, () => {})
  const { app, logs } = await buildApp(t, echo({ slow: srv.url, slowDefault: { url: srv.url, timeout: 40 } }))
  app.get('/', async () => 'handler')
  t.equal((await app.inject({ url: '/', headers: { 'x-cluster': 'slow', 'x-timeout': '40' } })).body, 'handler')
  t.equal((await app.inject({ url: '/', headers: { 'x-cluster': 'slowDefault' } })).body, 'handler')
  t.same(events(logs), ['close 5 4 4 2 1 deadline exceeded', 'close 9 4 4 2 1 deadline exceeded'])
  t.same(srv.calls.map(c => c.headers['grpc-timeout']), ['40m', '40m'], 'the deadline is sent as grpc-timeout')
  await until(() => srv.calls.every(c => c.closed !== undefined), 'the server to see both calls reset')
  t.same(srv.calls.map(c => c.closed), [8, 8])
  const warning = logs.lines.find(l => l.level === 40)
  t.match(warning?.msg, /gRPC call \/test\.Echo\/Say to cluster "slow" failed \(token 5\): status 4, deadline exceeded/)
  t.ok(warning?.reqId, 'logged with the request')
})

test('an unreachable cluster closes calls and streams with Unavailable (14)', async t => {
  const { app, logs } = await buildApp(t, echo({ down: await closedPort() }))
  app.get('/', async () => 'handler')
  t.equal((await app.inject({ url: '/', headers: { 'x-cluster': 'down' } })).body, 'handler')
  t.equal((await app.inject({ url: '/', headers: { 'x-cluster': 'down', 'x-kind': 'stream', 'x-send': 'a' } })).body, 'handler')
  t.same(events(logs), ['close 5 14 14 2 1 connection refused', 'close 6 14 14 2 1 connection refused'])
  t.ok(logs.lines.some(l => l.level === 40 && /cluster "down" failed \(token 6\): status 14, connection refused/.test(l.msg)))
  t.notOk(app.proxyWasm.stats()[0].failed)
})

test('answers that are not gRPC, resets and dropped connections map to gRPC statuses', async t => {
  const srv = await grpcServer(t, call => {
    call.onEnd = () => {
      const what = String(call.messages[0])
      if (what === 'http503') call.stream.respond({ ':status': 503, 'content-type': 'text/html' }, { endStream: true })
      else if (what === 'html') { call.stream.respond({ ':status': 200, 'content-type': 'text/html' }); call.stream.end('<html>') } else if (what === 'reset') { respond(call); call.stream.close(2) } else if (what === 'refused') call.stream.close(7)
      else if (what === 'drop') { respond(call); setTimeout(() => call.stream.session?.destroy(), 5) } else if (what === 'compressed') { respond(call); call.stream.write(Buffer.from([1, 0, 0, 0, 1, 65])) } else if (what === 'two') { respond(call); call.stream.write(Buffer.concat([frame('a'), frame('b')])); finish(call, 0) } else if (what === 'none') finish(call, 0)
      else if (what === 'big') { respond(call); call.stream.write(frame('x'.repeat(2000))) }
    }
  })
  const { app, logs } = await buildApp(t, echo({ up: srv.url }, { bodyLimit: 1000 }))
  app.get('/', async () => 'handler')
  const expect: Array<[string, number, RegExp]> = [
    ['http503', 14, /^not a gRPC response: HTTP status 503$/],
    ['html', 2, /^not a gRPC response: content-type "text\/html"$/],
    ['reset', 13, /^stream reset by the peer \(HTTP\/2 error 2\)$/],
    ['refused', 14, /^stream reset by the peer \(HTTP\/2 error 7\)$/],
    ['drop', 14, /./],
    ['compressed', 13, /compressed message/],
    ['two', 13, /^the response has 2 messages$/],
    ['none', 13, /^the response has no message$/],
    ['big', 8, /2000-byte message, over the 1000-byte limit/]
  ]
  for (const [what, status, message] of expect) {
    const before = events(logs).length
    t.equal((await app.inject({ url: '/', headers: { 'x-msg': what } })).body, 'handler', what)
    const [line] = events(logs).slice(before)
    const [, , st, code, , , ...rest] = line.split(' ')
    t.same([Number(st), Number(code)], [status, status], `${what}: status ${status}`)
    t.match(rest.join(' '), message, `${what}: message`)
  }
  // After the dropped connection the next call connects again.
  t.equal((await app.inject({ url: '/', headers: { 'x-msg': 'none' } })).body, 'handler')
  t.ok(srv.sessionCount >= 2, 'a new connection after the old one was dropped')
})

test('ABI 0.1.0: trailing metadata reaches the old export name proxy_on_grpc_trailing_metadata', async t => {
  const srv = await grpcServer(t, call => { call.onEnd = () => finish(call, 0, undefined, { 'x-old': 'yes' }) })
  const { app, logs } = await buildApp(t, { configs: [filter('old', wat('grpc-old'), { configuration: 'up' })], clusters: { up: srv.url } } as any)
  await app.ready()
  await until(() => logs.filterMessages('old').some(m => m.startsWith('close')), 'the stream to close')
  const msgs = logs.filterMessages('old').filter(m => /^(stream|old|close) /.test(m))
  t.equal(msgs[0], 'stream 0 token 6')
  const [, , token, n, h] = msgs[1].split(' ')
  t.same([msgs[1].startsWith('old trailing'), token, n], [true, '6', '2'])
  t.same(pairsOf(h), ['grpc-status', '0', 'x-old', 'yes'])
  t.equal(msgs[2], 'close 6 0')
  t.equal(srv.calls[0].path, '/test.Old/Watch')
  t.same(srv.calls[0].messages.map(String), ['hi'])
})

test('every host-function status: bad pointers, unknown clusters, wrong and unknown tokens', async t => {
  const srv = await grpcServer(t, () => {})
  const { app, logs } = await buildApp(t, { configs: [filter('edge', wat('grpc-edge'))], clusters: { up: srv.url } } as any)
  app.get('/', async () => 'handler')
  const BEEF = '3735928559'
  const cases: Array<[number, string, string]> = [
    [1, 'unknown cluster: ParseFailure', `4 ${BEEF}`],
    [2, 'cluster pointer out of memory', `6 ${BEEF}`],
    [3, 'service pointer out of memory', `6 ${BEEF}`],
    [4, 'method pointer out of memory', `6 ${BEEF}`],
    [5, 'metadata pointer out of memory', `6 ${BEEF}`],
    [6, 'message pointer out of memory', `6 ${BEEF}`],
    [7, 'token pointer out of memory (checked before sending)', `6 ${BEEF}`],
    [8, 'malformed metadata', `2 ${BEEF}`],
    [9, 'a pseudo-header in metadata', `2 ${BEEF}`],
    [10, 'a metadata value with CR', `2 ${BEEF}`],
    [11, 'an empty service name', `2 ${BEEF}`],
    [18, 'a service name with a slash', `2 ${BEEF}`],
    [19, 'an empty cluster name', `4 ${BEEF}`],
    [13, 'unknown tokens: NotFound; tokens of neither kind and grpc_send to a call token: BadArgument', '1 1 1 1 1 2 2 2 2'],
    [14, 'grpc_send checks its message pointer first', '6'],
    [16, 'grpc_stream: unknown cluster, bad token and metadata pointers', `4 ${BEEF} 6 6`]
  ]
  for (const [n, what, body] of cases) {
    t.equal((await app.inject({ url: '/', headers: { 'x-edge': String(n) } })).body, body, what)
  }
  t.equal(srv.calls.length, 0, 'nothing was sent')
  const warning = logs.lines.find(l => l.level === 40 && l.msg.includes('unknown cluster'))
  t.equal(warning?.filter, 'edge')
  t.match(warning?.msg, /^proxy_grpc_call: filter edge asked for unknown cluster "nope"; configured clusters: up$/)

  t.equal((await app.inject({ url: '/', headers: { 'x-edge': '12' } })).body, '0 5 2 0 1', 'call: send BadArgument, close cancels, then NotFound')
  t.equal((await app.inject({ url: '/', headers: { 'x-edge': '15' } })).body, '0 6 0 2 0 0 1', 'stream: send with end_stream, send after it BadArgument, close, cancel, then NotFound')
  await until(() => srv.calls.length === 2 && srv.calls.every(c => c.closed !== undefined), 'both to be reset')
  t.same(srv.calls.map(c => c.closed), [8, 8], 'cancelled on the wire')
  t.same(srv.calls[1].messages.map(String), ['x'])

  t.equal((await app.inject({ url: '/', headers: { 'x-edge': '17' } })).body, '0 9', 'metadata the host manages is dropped, the call goes out')
  await until(() => srv.calls.length === 3, 'the call')
  t.equal(srv.calls[2].headers['content-type'], 'application/grpc')
  t.ok(logs.lines.some(l => l.level === 40 && /metadata the host sets itself is not sent: content-type/.test(l.msg)))

  const { app: bare, logs: bareLogs } = await buildApp(t, { configs: [filter('edge', wat('grpc-edge'))] })
  bare.get('/', async () => 'handler')
  t.equal((await bare.inject({ url: '/', headers: { 'x-edge': '17' } })).body, `4 ${BEEF}`, 'no clusters: ParseFailure')
  t.ok(bareLogs.lines.some(l => l.level === 40 && /no clusters are configured \(options\.clusters\)/.test(l.msg)))
})

test('a client that hangs up while its call is pending: nothing is delivered, no stream context is left', async t => {
  let release: (() => void) | undefined
  const srv = await grpcServer(t, call => {
    call.onEnd = () => { release = () => { respond(call); call.stream.write(frame('late')); finish(call, 0) } }
  })
  const { app, logs } = await buildApp(t, echo({ up: srv.url }))
  app.get('/', async () => 'handler')
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  for (const headers of [{ 'x-msg': 'm' }, { 'x-kind': 'stream', 'x-send': 'm', 'x-end': 's' }]) {
    release = undefined
    const ac = new AbortController()
    const client = request(`http://127.0.0.1:${port}/`, { signal: ac.signal, headers }).catch(err => err)
    await until(() => release !== undefined, 'the call to reach the server')
    t.equal(app.proxyWasm.stats()[0].streamContexts, 1)
    ac.abort()
    t.ok(await client instanceof Error, 'the client gave up')
    await until(() => app.proxyWasm.stats()[0].streamContexts === 0, 'the stream context to go')
    release!()
    await until(() => srv.calls.at(-1)!.closed !== undefined, 'the answer to be sent')
    await sleep(20)
  }
  t.same(events(logs), [], 'no event reached the filter')
  t.ok(logs.lines.some(l => /token 5\): events dropped, context \d+ that made the call has ended/.test(l.msg)))
  t.notOk(app.proxyWasm.stats()[0].failed)
  t.same(logs.lines.filter(l => l.level >= 50), [], 'no errors')
  // The VM goes on.
  release = undefined
  const next = request(`http://127.0.0.1:${port}/`, { headers: { 'x-msg': 'again' } })
  await until(() => release !== undefined, 'the next call')
  release!()
  t.equal(await (await next).body.text(), 'handler')
  t.same(events(logs), [`message 9 4 0 2 ${hex('late')}`], 'tokens: call 5, stream 6, call 9')
})

test('app.close() with calls and streams in flight: all reset, no callback afterwards, no hang', async t => {
  const srv = await grpcServer(t, call => respond(call))
  const { app, logs } = await buildApp(t, {
    configs: [filter('echo', wat('grpc-echo'), { configuration: 'up' })],
    clusters: { up: srv.url },
    shutdownGraceMs: 50
  } as any)
  app.get('/', async () => 'handler')
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  const call = request(`http://127.0.0.1:${port}/`, { headers: { 'x-msg': 'm' } }).then(r => r.statusCode, err => err)
  const stream = request(`http://127.0.0.1:${port}/`, { headers: { 'x-kind': 'stream', 'x-send': 'a' } }).then(r => r.statusCode, err => err)
  await until(() => srv.calls.length === 4, 'root stream, root call, request call and request stream')
  t.same(logs.filterMessages('echo').filter(m => m.startsWith('root')), ['root stream 0 token 6', 'root call 0 token 5'])
  await until(() => events(logs).length === 2, 'initial metadata of both streams')
  const before = events(logs).length
  await app.close()
  t.same([await call, await stream], [503, 503], 'held requests got a 503')
  await until(() => srv.calls.every(c => c.closed !== undefined), 'every stream to be reset')
  t.same(srv.calls.map(c => c.closed), [8, 8, 8, 8])
  await sleep(20)
  t.equal(events(logs).length, before, 'no callback after close')
  t.same(logs.lines.filter(l => l.level >= 40), [], 'no warnings or errors')
  await until(() => srv.sessions.size === 0, 'the HTTP/2 connection to be closed')
  t.pass('the connection to the cluster is closed')
})

test('a VM that fails cancels its gRPC callouts; nothing is delivered to it', async t => {
  const srv = await grpcServer(t, call => respond(call))
  const { app, logs } = await buildApp(t, echo({ up: srv.url }), { level: 'info' })
  app.get('/', async () => 'handler')
  const waiting = app.inject({ url: '/', headers: { 'x-kind': 'stream', 'x-send': 'a' } })
  const call = app.inject({ url: '/', headers: { 'x-msg': 'b' } })
  await until(() => srv.calls.length === 2 && events(logs).length === 1, 'the stream to open and the call to go out')
  const trap = await app.inject({ url: '/', headers: { 'x-trap': '1' } })
  t.equal(trap.statusCode, 503)
  t.same([(await waiting).statusCode, (await call).statusCode], [503, 503], 'the paused requests fail closed')
  await until(() => srv.calls.every(c => c.closed !== undefined), 'both to be reset')
  t.same(srv.calls.map(c => c.closed), [8, 8])
  // The server still answers: nothing reaches the failed VM.
  for (const c of srv.calls) if (!c.stream.destroyed) c.stream.write(frame('late'))
  await sleep(20)
  t.equal(events(logs).length, 1, 'only the initial metadata from before the failure')
})

test('gRPC callouts are counted in the metrics: calls and failures', async t => {
  const srv = await grpcServer(t, call => {
    call.onEnd = () => {
      respond(call, {})
      if (String(call.messages[0]) === 'fail') {
        finish(call, 7, 'denied')
      } else {
        call.stream.write(frame('ok'))
        finish(call, 0)
      }
    }
  })
  const { app } = await buildApp(t, echo({ up: srv.url }))
  app.get('/', async () => 'handler')
  await app.inject({ url: '/', headers: { 'x-msg': 'fine' } })
  await app.inject({ url: '/', headers: { 'x-msg': 'fail' } })
  const text = await app.proxyWasm.metrics()
  t.match(text, /^proxy_wasm_grpc_calls_total\{filter="echo"\} 2$/m)
  t.match(text, /^proxy_wasm_grpc_call_failures_total\{filter="echo"\} 1$/m)
})
