import { test } from 'tap'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { connect, type AddressInfo } from 'node:net'
import { buildApp, filter } from './helpers/app'
import { wat } from './helpers/fixtures'
import {
  callbacks, decodePairs, encodePairs, Fn, Maps, MEM_END, OUT, Phase, Program, probe, result, runs, Status, statusOf, textOf, until, v, Var,
  type Pairs
} from './helpers/probe'

const REQ = Phase.RequestHeaders
const RES = Phase.ResponseHeaders
const { Ok, NotFound, BadArgument, InvalidMemoryAccess } = Status

interface Seen { url: string, method: string, query: unknown, headers: FastifyRequest['headers'] }

/** A route on `path` (any method) that records what the handler saw. */
function recordingRoute (app: FastifyInstance, path = '/*'): Seen[] {
  const seen: Seen[] = []
  app.all(path, async request => {
    seen.push({ url: request.url, method: request.method, query: { ...(request.query as object) }, headers: { ...request.headers } })
    return 'route'
  })
  return seen
}

/** Sends `head` (a request head without the final CRLF) on a raw socket; resolves with the whole response. */
async function rawRequest (app: FastifyInstance, head: string): Promise<string> {
  if (!app.server.listening) await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  return await new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    const s = connect(port, '127.0.0.1', () => s.end(Buffer.from(head + '\r\n', 'latin1')))
    s.on('data', c => chunks.push(c))
    s.on('error', reject)
    s.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')))
  })
}

const byteSize = (pairs: Pairs) => pairs.reduce((n, [k, v]) => n + k.length + v.length, 0)

test('request map: pseudo-headers first, then the headers as sent, lower-cased, duplicates as separate pairs; exact bytes', async t => {
  const p = new Program()
  const pairs = p.getPairs(REQ, Maps.RequestHeaders)
  const size = p.getSize(REQ, Maps.RequestHeaders)
  // The serialized map itself as a local reply body: compared byte for byte.
  p.call(REQ, Fn.LocalReply, [200, 0, 0, { v: 1 }, { v: 2 }, 0, 0, -1])
  const { app, logs } = await buildApp(t, { configs: [probe('p', p)] })
  const seen = recordingRoute(app)
  const res = await rawRequest(app, [
    'GET /p/a?q=1&q=2 HTTP/1.1',
    'Host: Example.com:8080',
    'X-Foo: a',
    'X-Empty: ',
    'Connection: close',
    'x-FOO: b',
    'Keep-Alive: timeout=5',
    ''
  ].join('\r\n'))
  const expected: Pairs = [
    [':authority', 'Example.com:8080'], [':path', '/p/a?q=1&q=2'], [':method', 'GET'], [':scheme', 'http'],
    ['x-foo', 'a'], ['x-empty', ''], ['x-foo', 'b']
  ]
  const bytes = encodePairs(expected)
  t.same(result(logs, 'p', pairs).bytes, bytes, 'get_header_map_pairs bytes, exactly')
  t.same(decodePairs(result(logs, 'p', pairs).bytes!), expected)
  t.equal(result(logs, 'p', size).value, byteSize(expected), 'size: the sum of name and value bytes (Envoy byteSize)')
  const [head, body] = res.split('\r\n\r\n')
  t.match(head, /^HTTP\/1\.1 200 /)
  t.match(head, new RegExp(`content-length: ${bytes.length}\r\n`, 'i'))
  t.same(Buffer.from(body, 'latin1'), bytes, 'the local reply body carries the same bytes')
  t.equal(seen.length, 0, 'the local reply answered')
  const [cb] = callbacks(logs, 'p', REQ)
  t.equal(cb.a, expected.length, 'num_headers: the number of pairs in the map')
  t.equal(cb.b, 1, 'end_of_stream: a GET has no body')
})

test('get_header_map_value: first value, case-insensitive names, empty vs missing, pseudo-headers', async t => {
  const p = new Program()
  const ops = {
    first: p.getValue(REQ, Maps.RequestHeaders, 'x-multi'),
    upper: p.getValue(REQ, Maps.RequestHeaders, 'X-MULTI'),
    empty: p.getValue(REQ, Maps.RequestHeaders, 'x-empty'),
    missing: p.getValue(REQ, Maps.RequestHeaders, 'x-missing'),
    host: p.getValue(REQ, Maps.RequestHeaders, 'host'),
    method: p.getValue(REQ, Maps.RequestHeaders, ':method'),
    methodUpper: p.getValue(REQ, Maps.RequestHeaders, ':METHOD'),
    path: p.getValue(REQ, Maps.RequestHeaders, ':path'),
    authority: p.getValue(REQ, Maps.RequestHeaders, ':authority'),
    scheme: p.getValue(REQ, Maps.RequestHeaders, ':scheme'),
    status: p.getValue(REQ, Maps.RequestHeaders, ':status'),
    emptyName: p.call(REQ, Fn.GetValue, [Maps.RequestHeaders, 0, 0, OUT, OUT + 4], 1),
    rStatus: p.getValue(RES, Maps.ResponseHeaders, ':status'),
    rType: p.getValue(RES, Maps.ResponseHeaders, 'Content-Type'),
    rMulti: p.getValue(RES, Maps.ResponseHeaders, 'x-r-multi'),
    rEmpty: p.getValue(RES, Maps.ResponseHeaders, 'x-r-empty'),
    rMissing: p.getValue(RES, Maps.ResponseHeaders, 'x-r-missing'),
    rPairs: p.getPairs(RES, Maps.ResponseHeaders),
    rSize: p.getSize(RES, Maps.ResponseHeaders)
  }
  const { app, logs } = await buildApp(t, { configs: [probe('p', p)] })
  app.get('/x', async (_req, reply) => {
    reply.code(202).header('x-r-multi', ['one', 'two']).header('x-r-empty', '').type('text/plain')
    return 'ok'
  })
  const res = await app.inject({ url: '/x?y=1', headers: { host: 'h.test', 'x-multi': 'first', 'x-empty': '' } })
  t.equal(res.statusCode, 202)
  const text = (i: number) => textOf(logs, 'p', i)
  t.equal(text(ops.first), 'first')
  t.equal(text(ops.upper), 'first')
  t.same(result(logs, 'p', ops.empty), { status: Ok, ptr: 0, size: 0, bytes: Buffer.alloc(0) }, 'empty value: Ok, (0, 0)')
  t.equal(statusOf(logs, 'p', ops.missing), NotFound)
  t.equal(statusOf(logs, 'p', ops.host), NotFound, 'host is only :authority')
  t.equal(text(ops.method), 'GET')
  t.equal(text(ops.methodUpper), 'GET')
  t.equal(text(ops.path), '/x?y=1')
  t.equal(text(ops.authority), 'h.test')
  t.equal(text(ops.scheme), 'http')
  t.equal(statusOf(logs, 'p', ops.status), NotFound, 'no :status in a request')
  t.equal(statusOf(logs, 'p', ops.emptyName), NotFound, '(0, 0) is a valid, empty name')
  t.equal(text(ops.rStatus), '202')
  t.equal(text(ops.rType), 'text/plain')
  t.equal(text(ops.rMulti), 'one', 'the first of a repeated response header')
  t.same(result(logs, 'p', ops.rEmpty), { status: Ok, ptr: 0, size: 0, bytes: Buffer.alloc(0) })
  t.equal(statusOf(logs, 'p', ops.rMissing), NotFound)
  const rPairs = decodePairs(result(logs, 'p', ops.rPairs).bytes!)
  t.same(rPairs[0], [':status', '202'], ':status comes first')
  t.same(rPairs.filter(([k]) => k === 'x-r-multi'), [['x-r-multi', 'one'], ['x-r-multi', 'two']], 'separate pairs')
  t.equal(result(logs, 'p', ops.rSize).value, byteSize(rPairs))
  const [cb] = callbacks(logs, 'p', RES)
  t.equal(cb.a, rPairs.length, 'num_headers of the response: its number of pairs')
  t.equal(cb.b, 0, 'end_of_stream: a body follows')
})

test('end_of_stream is 0 for a POST with a body', async t => {
  const { app, logs } = await buildApp(t, { configs: [probe('p', new Program())] })
  recordingRoute(app)
  const res = await app.inject({ method: 'POST', url: '/', payload: 'hello', headers: { 'content-type': 'text/plain' } })
  t.equal(res.statusCode, 200)
  t.equal(callbacks(logs, 'p', REQ)[0].b, 0)
})

test('ABI 0.1.0: a missing header is Ok with (0, 0); on_request_headers gets 2 arguments', async t => {
  const { app, logs } = await buildApp(t, { configs: [filter('old', wat('hm-abi010'))] })
  recordingRoute(app)
  const res = await app.inject({ url: '/', headers: { 'x-present': 'yes', 'x-empty': '' } })
  t.equal(res.statusCode, 200)
  const m = logs.filterMessages('old')
  t.ok(m.includes('missing 0 0 0'), 'missing: status 0, ptr 0, size 0')
  t.ok(m.includes('empty 0 0 0'), 'empty: status 0, ptr 0, size 0')
  t.ok(m.some(l => /^present 0 [1-9]\d* 3$/.test(l)), 'present: status 0, a pointer, 3 bytes')
  t.ok(m.includes('value yes'))
  // 4 pseudo-headers, x-present, x-empty and light-my-request's user-agent (its host is :authority).
  t.ok(m.includes('headers 7'), `num_headers: ${m.join(' | ')}`)
})

test('request edits reach the handler: add, replace, remove, lower-cased names', async t => {
  const p = new Program()
  const ops = [
    p.add(REQ, Maps.RequestHeaders, 'X-Added', 'v1'),
    p.add(REQ, Maps.RequestHeaders, 'x-ADDED', 'v2'),
    p.add(REQ, Maps.RequestHeaders, 'x-blank', ''),
    p.replace(REQ, Maps.RequestHeaders, 'X-Multi', 'only'),
    p.replace(REQ, Maps.RequestHeaders, 'X-New', 'fresh'),
    p.remove(REQ, Maps.RequestHeaders, 'X-GONE'),
    p.remove(REQ, Maps.RequestHeaders, 'x-never-there'),
    p.add(REQ, Maps.RequestHeaders, 'x-tab', 'a\tb')
  ]
  const pairs = p.getPairs(REQ, Maps.RequestHeaders)
  const { app, logs } = await buildApp(t, { configs: [probe('p', p)] })
  const seen = recordingRoute(app)
  const res = await rawRequest(app, 'GET / HTTP/1.1\r\nHost: a\r\nX-Multi: 1\r\nX-Gone: x\r\nx-multi: 2\r\nX-Kept: k\r\nConnection: close\r\n')
  t.match(res, /^HTTP\/1\.1 200 /)
  for (const i of ops) t.equal(statusOf(logs, 'p', i), Ok, `op ${i}`)
  t.same(decodePairs(result(logs, 'p', pairs).bytes!), [
    [':authority', 'a'], [':path', '/'], [':method', 'GET'], [':scheme', 'http'],
    ['x-multi', 'only'], ['x-kept', 'k'], ['x-added', 'v1'], ['x-added', 'v2'], ['x-blank', ''], ['x-new', 'fresh'], ['x-tab', 'a\tb']
  ], 'the map after the edits')
  const h = seen[0].headers
  t.equal(h['x-added'], 'v1, v2')
  t.equal(h['x-blank'], '')
  t.equal(h['x-multi'], 'only')
  t.equal(h['x-new'], 'fresh')
  t.equal(h['x-gone'], undefined)
  t.equal(h['x-kept'], 'k')
  t.equal(h['x-tab'], 'a\tb')
  t.equal(h.host, 'a')
})

test(':path, :method and :authority rewrites are what the handler sees', async t => {
  const p = new Program()
  const ops = [
    p.replace(REQ, Maps.RequestHeaders, ':path', '/orig?a=1&b=two'),
    p.replace(REQ, Maps.RequestHeaders, ':METHOD', 'PATCH'),
    // Adding a pseudo-header replaces it: it has one value.
    p.add(REQ, Maps.RequestHeaders, ':authority', 'rewritten.test')
  ]
  const after = p.getPairs(REQ, Maps.RequestHeaders)
  const { app, logs } = await buildApp(t, { configs: [probe('p', p)] })
  const seen = recordingRoute(app, '/orig')
  const res = await app.inject({ method: 'PATCH', url: '/orig?x=0', headers: { host: 'before.test' } })
  t.equal(res.statusCode, 200)
  for (const i of ops) t.equal(statusOf(logs, 'p', i), Ok)
  t.same(decodePairs(result(logs, 'p', after).bytes!).slice(0, 3), [[':authority', 'rewritten.test'], [':path', '/orig?a=1&b=two'], [':method', 'PATCH']])
  t.equal(seen[0].url, '/orig?a=1&b=two')
  t.same(seen[0].query, { a: '1', b: 'two' })
  t.equal(seen[0].method, 'PATCH')
  t.equal(seen[0].headers.host, 'rewritten.test')
})

test(':method rewrite on a GET route', async t => {
  const p = new Program()
  const op = p.replace(REQ, Maps.RequestHeaders, ':method', 'DELETE')
  const { app, logs } = await buildApp(t, { configs: [probe('p', p)] })
  const seen = recordingRoute(app)
  const res = await app.inject({ url: '/thing' })
  t.equal(res.statusCode, 200)
  t.equal(statusOf(logs, 'p', op), Ok)
  t.equal(seen[0].method, 'DELETE')
})

test('set_header_map_pairs replaces the request map; pseudo-headers left out keep their values', async t => {
  const p = new Program()
  const set = p.setPairs(REQ, Maps.RequestHeaders, [['X-New', '1'], ['x-dup', 'a'], ['x-dup', 'b'], [':method', 'PUT'], ['x-empty', '']])
  const after = p.getPairs(REQ, Maps.RequestHeaders)
  const size = p.getSize(REQ, Maps.RequestHeaders)
  const { app, logs } = await buildApp(t, { configs: [probe('p', p)] })
  const seen = recordingRoute(app)
  const res = await app.inject({ url: '/keep?me=1', headers: { host: 'keep.test', 'x-old': 'gone', cookie: 'c=1' } })
  t.equal(res.statusCode, 200)
  t.equal(statusOf(logs, 'p', set), Ok)
  const map = decodePairs(result(logs, 'p', after).bytes!)
  t.same(map.filter(([k]) => !k.startsWith(':')), [['x-new', '1'], ['x-dup', 'a'], ['x-dup', 'b'], ['x-empty', '']], 'names lower-cased, order kept')
  t.same(new Map(map.filter(([k]) => k.startsWith(':'))), new Map([[':authority', 'keep.test'], [':path', '/keep?me=1'], [':method', 'PUT'], [':scheme', 'http']]))
  t.equal(result(logs, 'p', size).value, byteSize(map))
  const h = seen[0].headers
  t.equal(h['x-old'], undefined, 'removed headers disappear')
  t.equal(h.cookie, undefined)
  t.equal(h['user-agent'], undefined)
  t.equal(h['x-new'], '1')
  t.equal(h['x-dup'], 'a, b')
  t.equal(h['x-empty'], '')
  t.equal(h.host, 'keep.test')
  t.equal(seen[0].url, '/keep?me=1')
  t.same(seen[0].query, { me: '1' })
  t.equal(seen[0].method, 'PUT')
})

test('response edits reach the client: :status, add, replace, remove', async t => {
  const p = new Program()
  const ops = [
    p.replace(RES, Maps.ResponseHeaders, ':status', '299'),
    p.add(RES, Maps.ResponseHeaders, 'X-Resp', 'r1'),
    p.add(RES, Maps.ResponseHeaders, 'x-resp', 'r2'),
    p.replace(RES, Maps.ResponseHeaders, 'X-Route', 'replaced'),
    p.remove(RES, Maps.ResponseHeaders, 'X-Secret'),
    p.remove(RES, Maps.ResponseHeaders, 'x-multi')
  ]
  const { app, logs } = await buildApp(t, { configs: [probe('p', p)] })
  app.get('/', async (_req, reply) => {
    reply.header('x-route', 'orig').header('x-secret', 's').header('x-multi', ['1', '2']).header('x-stays', 'yes')
    return 'body'
  })
  const raw = await rawRequest(app, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n')
  for (const i of ops) t.equal(statusOf(logs, 'p', i), Ok, `op ${i}`)
  const [head, body] = raw.split('\r\n\r\n')
  t.match(head, /^HTTP\/1\.1 299 /)
  const lines = head.split('\r\n').slice(1).map(l => l.toLowerCase())
  t.same(lines.filter(l => l.startsWith('x-resp:')), ['x-resp: r1', 'x-resp: r2'], 'each value on its own line')
  t.same(lines.filter(l => l.startsWith('x-route:')), ['x-route: replaced'])
  t.same(lines.filter(l => l.startsWith('x-secret:') || l.startsWith('x-multi:')), [], 'removed')
  t.same(lines.filter(l => l.startsWith('x-stays:')), ['x-stays: yes'])
  t.equal(body, 'body')
})

test('set_header_map_pairs on the response: the client gets exactly the new headers; :status kept', async t => {
  const p = new Program()
  const set = p.setPairs(RES, Maps.ResponseHeaders, [['X-Only', '1'], ['x-two', 'a'], ['x-two', 'b']])
  const after = p.getPairs(RES, Maps.ResponseHeaders)
  const { app, logs } = await buildApp(t, { configs: [probe('p', p)] })
  app.get('/', async (_req, reply) => {
    reply.code(201).header('x-route', 'orig')
    return 'body'
  })
  const res = await app.inject('/')
  t.equal(statusOf(logs, 'p', set), Ok)
  t.same(decodePairs(result(logs, 'p', after).bytes!), [[':status', '201'], ['x-only', '1'], ['x-two', 'a'], ['x-two', 'b']])
  t.equal(res.statusCode, 201)
  t.equal(res.headers['x-only'], '1')
  t.same(res.raw.res.getHeader('x-two'), ['a', 'b'])
  t.equal(res.headers['x-route'], undefined)
  t.equal(res.headers['content-type'], undefined, 'the route\'s content-type went too')
  t.equal(res.body, 'body')
})

test('out-of-bounds pointers and lengths: InvalidMemoryAccess for every pointer argument; nothing changes', async t => {
  const p = new Program()
  const R = Maps.RequestHeaders
  const [key, keyLen] = p.bytes('x-foo')
  const [val, valLen] = p.bytes('v')
  const [pairs, pairsLen] = p.bytes(encodePairs([['x-set', '1']]))
  const FAR = 0xFFFFFFF0
  const cases: Array<[string, number, number]> = []
  const c = (what: string, fn: Fn, args: number[], expected: number) => cases.push([what, p.call(REQ, fn, args), expected])
  c('get_value key ptr', Fn.GetValue, [R, FAR, keyLen, OUT, OUT + 4], InvalidMemoryAccess)
  c('get_value key len', Fn.GetValue, [R, key, 0xFFFFFFFF, OUT, OUT + 4], InvalidMemoryAccess)
  c('get_value key past the end', Fn.GetValue, [R, MEM_END - 3, 4, OUT, OUT + 4], InvalidMemoryAccess)
  c('get_value key at the very end', Fn.GetValue, [R, MEM_END - 3, 3, OUT, OUT + 4], NotFound)
  c('get_value ret ptr', Fn.GetValue, [R, key, keyLen, FAR, OUT + 4], InvalidMemoryAccess)
  c('get_value ret ptr, 2 bytes left', Fn.GetValue, [R, key, keyLen, MEM_END - 2, OUT + 4], InvalidMemoryAccess)
  c('get_value ret size', Fn.GetValue, [R, key, keyLen, OUT, MEM_END - 3], InvalidMemoryAccess)
  c('get_value ret size, 4 bytes left', Fn.GetValue, [R, key, keyLen, OUT, MEM_END - 4], Ok)
  c('get_pairs ret ptr', Fn.GetPairs, [R, FAR, OUT + 4], InvalidMemoryAccess)
  c('get_pairs ret size', Fn.GetPairs, [R, OUT, MEM_END - 1], InvalidMemoryAccess)
  c('get_size ret size', Fn.GetSize, [R, MEM_END - 2], InvalidMemoryAccess)
  c('get_size ret size, 4 bytes left', Fn.GetSize, [R, MEM_END - 4], Ok)
  c('add key ptr', Fn.Add, [R, FAR, keyLen, val, valLen], InvalidMemoryAccess)
  c('add value ptr', Fn.Add, [R, key, keyLen, FAR, valLen], InvalidMemoryAccess)
  c('add value len', Fn.Add, [R, key, keyLen, val, 0x80000000], InvalidMemoryAccess)
  c('replace key len', Fn.Replace, [R, key, MEM_END, val, valLen], InvalidMemoryAccess)
  c('replace value ptr', Fn.Replace, [R, key, keyLen, MEM_END, 1], InvalidMemoryAccess)
  c('remove key ptr', Fn.Remove, [R, FAR, keyLen], InvalidMemoryAccess)
  c('remove key len wraps', Fn.Remove, [R, key, 0xFFFFFFFF - key + 2], InvalidMemoryAccess)
  c('set_pairs ptr', Fn.SetPairs, [R, FAR, pairsLen], InvalidMemoryAccess)
  c('set_pairs size', Fn.SetPairs, [R, pairs, MEM_END], InvalidMemoryAccess)
  const after = p.getPairs(REQ, R)
  const { app, logs } = await buildApp(t, { configs: [probe('p', p)] })
  const seen = recordingRoute(app)
  const res = await app.inject({ url: '/', headers: { 'x-foo': 'orig' } })
  t.equal(res.statusCode, 200)
  for (const [what, i, expected] of cases) t.equal(statusOf(logs, 'p', i), expected, what)
  const map = decodePairs(result(logs, 'p', after).bytes!)
  t.same(map.filter(([k]) => k.startsWith('x-')), [['x-foo', 'orig']], 'the map is unchanged')
  t.equal(seen[0].headers['x-foo'], 'orig')
  t.equal(seen[0].headers['x-set'], undefined)
})

test('unknown map types are BadArgument for every header-map function, before the pointers are looked at', async t => {
  const p = new Program()
  const [key, keyLen] = p.bytes('x-foo')
  const cases: Array<[string, number]> = []
  for (const type of [8, 0xFFFFFFFF, 0x80000000]) {
    const c = (what: string, fn: Fn, args: number[]) => cases.push([`${what} type ${type}`, p.call(REQ, fn, [type, ...args])])
    c('get_value', Fn.GetValue, [key, keyLen, OUT, OUT + 4])
    c('get_value (bad key too)', Fn.GetValue, [0xFFFFFFF0, 100, OUT, OUT + 4])
    c('get_pairs', Fn.GetPairs, [OUT, OUT + 4])
    c('get_size', Fn.GetSize, [OUT])
    c('add', Fn.Add, [key, keyLen, key, keyLen])
    c('replace', Fn.Replace, [key, keyLen, key, keyLen])
    c('remove', Fn.Remove, [key, keyLen])
    c('set_pairs', Fn.SetPairs, [0, 0])
  }
  const { app, logs } = await buildApp(t, { configs: [probe('p', p)] })
  const seen = recordingRoute(app)
  const res = await app.inject({ url: '/', headers: { 'x-foo': 'orig' } })
  t.equal(res.statusCode, 200)
  for (const [what, i] of cases) t.equal(statusOf(logs, 'p', i), BadArgument, what)
  t.equal(seen[0].headers['x-foo'], 'orig')
})

test('maps not available in the phase: BadArgument, except get_pairs which reads them as empty', async t => {
  const p = new Program()
  const cases: Array<[string, number, number]> = []
  for (const map of [Maps.ResponseHeaders, Maps.ResponseTrailers, Maps.RequestTrailers, Maps.HttpCallHeaders, Maps.HttpCallTrailers]) {
    cases.push([`get_value ${map}`, p.getValue(REQ, map, ':status'), BadArgument])
    cases.push([`get_size ${map}`, p.getSize(REQ, map), BadArgument])
    cases.push([`add ${map}`, p.add(REQ, map, 'x-a', '1'), BadArgument])
    cases.push([`replace ${map}`, p.replace(REQ, map, 'x-a', '1'), BadArgument])
    cases.push([`remove ${map}`, p.remove(REQ, map, 'x-a'), BadArgument])
    cases.push([`set_pairs ${map}`, p.setPairs(REQ, map, [['x-a', '1']]), BadArgument])
    cases.push([`get_pairs ${map}`, p.getPairs(REQ, map), Ok])
  }
  const { app, logs } = await buildApp(t, { configs: [probe('p', p)] })
  recordingRoute(app)
  const res = await app.inject('/')
  t.equal(res.statusCode, 200)
  t.equal(res.headers['x-a'], undefined)
  for (const [what, i, expected] of cases) {
    const r = result(logs, 'p', i)
    t.equal(r.status, expected, what)
    if (what.startsWith('get_pairs')) t.same([r.ptr, r.size], [0, 0], `${what}: (0, 0)`)
  }
})

test('request headers are read-only after their phase: from on_response_headers and on_log', async t => {
  const p = new Program()
  const R = Maps.RequestHeaders
  const cases: Array<[string, number, number]> = []
  for (const phase of [RES, Phase.Log]) {
    cases.push([`add ${phase}`, p.add(phase, R, 'x-late', '1'), BadArgument])
    cases.push([`replace ${phase}`, p.replace(phase, R, 'x-foo', 'late'), BadArgument])
    cases.push([`replace :path ${phase}`, p.replace(phase, R, ':path', '/late'), BadArgument])
    cases.push([`remove ${phase}`, p.remove(phase, R, 'x-foo'), BadArgument])
    cases.push([`set_pairs ${phase}`, p.setPairs(phase, R, [['x-late', '1']]), BadArgument])
    cases.push([`get_value ${phase}`, p.getValue(phase, R, 'x-foo'), Ok])
  }
  // The response map after its phase, from on_log: readable, not writable.
  cases.push(['log: add response', p.add(Phase.Log, Maps.ResponseHeaders, 'x-late', '1'), BadArgument])
  cases.push(['log: remove response', p.remove(Phase.Log, Maps.ResponseHeaders, 'x-r'), BadArgument])
  cases.push(['log: get response', p.getValue(Phase.Log, Maps.ResponseHeaders, 'x-r'), Ok])
  const { app, logs } = await buildApp(t, { configs: [probe('p', p)] })
  app.get('/', async (_req, reply) => { reply.header('x-r', 'r'); return 'ok' })
  const res = await app.inject({ url: '/', headers: { 'x-foo': 'orig' } })
  t.equal(res.statusCode, 200)
  t.equal(res.headers['x-r'], 'r')
  await until(() => callbacks(logs, 'p', Phase.Log).length > 0 && logs.filterMessages('p').length >= 3 + cases.length, 'on_log')
  for (const [what, i, expected] of cases) t.equal(statusOf(logs, 'p', i), expected, what)
  for (const phase of [RES, Phase.Log]) t.equal(textOf(logs, 'p', cases.find(c => c[0] === `get_value ${phase}`)![1]), 'orig')
})

test('invalid names and values (CR, LF, NUL, non-tokens, unknown pseudo-headers): BadArgument; the request goes on', async t => {
  const p = new Program()
  const R = Maps.RequestHeaders
  const bad: Array<[string, string]> = [
    ['x-bad', 'a\r\nx-injected: 1'], ['x-bad', 'a\nb'], ['x-bad', 'a\rb'], ['x-bad', 'a\0b'], ['x-bad', '\x7f'],
    ['bad name', 'v'], ['bad:name', 'v'], ['', 'v'], ['x-bad\r\n', 'v'], ['x-bad\0', 'v'], ['bäd', 'v'], ['(x)', 'v'],
    [':unknown', 'v'], [':status', '200'],
    [':method', 'GE T'], [':method', ''], [':path', 'no-slash'], [':path', '/a b'], [':path', ''], [':scheme', 'ftp'], [':authority', 'a b']
  ]
  const cases: Array<[string, number]> = []
  for (const [k, val] of bad) {
    cases.push([`add ${JSON.stringify(k)}: ${JSON.stringify(val)}`, p.add(REQ, R, k, val)])
    cases.push([`replace ${JSON.stringify(k)}: ${JSON.stringify(val)}`, p.replace(REQ, R, k, val)])
    cases.push([`set_pairs ${JSON.stringify(k)}: ${JSON.stringify(val)}`, p.setPairs(REQ, R, [['x-ok', '1'], [k, val]])])
  }
  const rBad: Array<[string, string]> = [[':status', '99'], [':status', '600'], [':status', '20x'], [':status', ''], [':path', '/'], ['x-r', 'a\nb']]
  for (const [k, val] of rBad) cases.push([`response replace ${k}: ${JSON.stringify(val)}`, p.replace(RES, Maps.ResponseHeaders, k, val)])
  const after = p.getPairs(REQ, R)
  const { app, logs } = await buildApp(t, { configs: [probe('p', p)] })
  const seen = recordingRoute(app)
  const res = await app.inject({ url: '/', headers: { 'x-foo': 'orig' } })
  t.equal(res.statusCode, 200)
  t.equal(res.body, 'route')
  for (const [what, i] of cases) t.equal(statusOf(logs, 'p', i), BadArgument, what)
  const map = decodePairs(result(logs, 'p', after).bytes!)
  t.same(map.filter(([k]) => k.startsWith('x-')), [['x-foo', 'orig']], 'unchanged: set_pairs is all or nothing')
  t.same(map.slice(0, 4).map(([k]) => k), [':authority', ':path', ':method', ':scheme'])
  t.equal(seen[0].headers['x-bad'], undefined)
  t.equal(seen[0].headers['x-injected'], undefined)
  t.equal(seen[0].method, 'GET')
  t.equal(seen[0].url, '/')
})

test('malformed serialized pairs: BadArgument and the map unchanged', async t => {
  const good = encodePairs([['x-set', '1']])
  const truncated = good.subarray(0, good.length - 1)
  const trailing = Buffer.concat([good, Buffer.from([0])])
  const noNul = Buffer.from(good)
  noNul[noNul.length - 1] = 0x41
  const noNulAfterName = Buffer.from(good)
  noNulAfterName[4 + 8 + 5] = 0x41
  const countTooBig = Buffer.from(good)
  countTooBig.writeUInt32LE(2, 0)
  const lengthOverrun = Buffer.from(good)
  lengthOverrun.writeUInt32LE(0xFFFFFFF0, 4)
  const table = Buffer.alloc(8)
  table.writeUInt32LE(1, 0)
  const pairs1025 = encodePairs(Array.from({ length: 1025 }, (_, i) => [`x-${i}`, ''] as [string, string]))
  const cases: Array<[string, Buffer]> = [
    ['truncated by a byte', truncated], ['a trailing byte', trailing], ['value without NUL', noNul], ['name without NUL', noNulAfterName],
    ['count larger than the pairs', countTooBig], ['a length past the end', lengthOverrun], ['size table cut short', table],
    ['1025 pairs', pairs1025], ['two bytes', Buffer.from([0, 0])], ['three bytes', Buffer.from([0, 0, 0])], ['one non-zero byte', Buffer.from([1])]
  ]
  const p = new Program()
  const ops = cases.map(([, b]) => p.setPairs(REQ, Maps.RequestHeaders, b))
  const rOp = p.setPairs(RES, Maps.ResponseHeaders, truncated)
  const after = p.getPairs(REQ, Maps.RequestHeaders)
  const { app, logs } = await buildApp(t, { configs: [probe('p', p)] })
  const seen = recordingRoute(app)
  app.get('/r', async (_req, reply) => { reply.header('x-r', 'kept'); return 'r' })
  const res = await app.inject({ url: '/', headers: { 'x-foo': 'orig' } })
  t.equal(res.statusCode, 200)
  cases.forEach(([what], k) => t.equal(statusOf(logs, 'p', ops[k]), BadArgument, what))
  t.same(decodePairs(result(logs, 'p', after).bytes!).filter(([k]) => k.startsWith('x-')), [['x-foo', 'orig']])
  t.equal(seen[0].headers['x-foo'], 'orig')
  t.equal(seen[0].headers['x-set'], undefined)
  const r = await app.inject('/r')
  t.equal(r.headers['x-r'], 'kept')
  t.equal(runs(logs, 'p', rOp).length, 2)
  t.equal(runs(logs, 'p', rOp)[1].status, BadArgument, 'response map too')
})

test('1024 pairs are accepted', async t => {
  const many: Pairs = Array.from({ length: 1024 }, (_, i) => [`x-${i}`, String(i)])
  const p = new Program()
  const set = p.setPairs(REQ, Maps.RequestHeaders, many)
  const { app, logs } = await buildApp(t, { configs: [probe('p', p)] })
  const seen = recordingRoute(app)
  const res = await app.inject({ url: '/', headers: { 'x-foo': 'orig' } })
  t.equal(res.statusCode, 200)
  t.equal(statusOf(logs, 'p', set), Ok)
  t.equal(seen[0].headers['x-1023'], '1023')
  t.equal(seen[0].headers['x-foo'], undefined)
})

test('empty map encodings (size 0, one 0x00 byte, a zero count) are accepted and empty the map; pseudo-headers stay', async t => {
  const encodings: Array<[string, Buffer]> = [['size 0', Buffer.alloc(0)], ['one zero byte', Buffer.from([0])], ['zero count', Buffer.alloc(4)]]
  for (const [what, bytes] of encodings) {
    t.test(what, async t => {
      const p = new Program()
      const set = p.setPairs(REQ, Maps.RequestHeaders, bytes)
      const after = p.getPairs(REQ, Maps.RequestHeaders)
      const rSet = p.setPairs(RES, Maps.ResponseHeaders, bytes)
      const { app, logs } = await buildApp(t, { configs: [probe('p', p)] })
      const seen = recordingRoute(app)
      const res = await app.inject({ url: '/e?k=v', headers: { host: 'e.test', 'x-foo': 'orig' } })
      t.equal(statusOf(logs, 'p', set), Ok)
      t.equal(statusOf(logs, 'p', rSet), Ok)
      t.same(new Map(decodePairs(result(logs, 'p', after).bytes!)), new Map([[':authority', 'e.test'], [':path', '/e?k=v'], [':method', 'GET'], [':scheme', 'http']]))
      t.equal(seen[0].headers['x-foo'], undefined)
      t.equal(seen[0].headers['user-agent'], undefined)
      t.equal(seen[0].headers.host, 'e.test')
      t.equal(seen[0].url, '/e?k=v')
      t.equal(res.statusCode, 200, ':status stays')
      t.equal(res.body, 'route')
    })
  }
})

test('removing a pseudo-header is BadArgument; so is a set_pairs with one twice', async t => {
  const p = new Program()
  const cases = [
    p.remove(REQ, Maps.RequestHeaders, ':path'),
    p.remove(REQ, Maps.RequestHeaders, ':METHOD'),
    p.remove(REQ, Maps.RequestHeaders, ':authority'),
    p.remove(REQ, Maps.RequestHeaders, ':scheme'),
    p.remove(RES, Maps.ResponseHeaders, ':status'),
    p.setPairs(REQ, Maps.RequestHeaders, [[':path', '/a'], [':path', '/b']])
  ]
  const after = p.getPairs(REQ, Maps.RequestHeaders)
  const { app, logs } = await buildApp(t, { configs: [probe('p', p)] })
  const seen = recordingRoute(app)
  const res = await app.inject({ url: '/still', headers: { host: 'h' } })
  for (const i of cases) t.equal(statusOf(logs, 'p', i), BadArgument, `op ${i}`)
  t.same(decodePairs(result(logs, 'p', after).bytes!).slice(0, 4), [[':authority', 'h'], [':path', '/still'], [':method', 'GET'], [':scheme', 'http']])
  t.equal(seen[0].url, '/still')
  t.equal(res.statusCode, 200)
})

test('latin1 bytes: read as sent, written to the handler and to the wire unchanged; no Host is an empty :authority', async t => {
  const p = new Program()
  const read = p.getValue(REQ, Maps.RequestHeaders, 'x-latin')
  const authority = p.getValue(REQ, Maps.RequestHeaders, ':authority')
  p.add(REQ, Maps.RequestHeaders, 'x-added', 'caf\xe9 \xff')
  p.add(RES, Maps.ResponseHeaders, 'x-resp', 'caf\xe9 \xff')
  const { app, logs } = await buildApp(t, { configs: [probe('p', p)] })
  let seen: string | string[] | undefined
  app.get('/buffer', async req => { seen = req.headers['x-added']; return Buffer.from('route') })
  app.get('/string', async () => 'route')
  // HTTP/1.0 without a Host header.
  const buffer = await rawRequest(app, 'GET /buffer HTTP/1.0\r\nX-Latin: caf\xe9\r\n')
  t.same(result(logs, 'p', read).bytes, Buffer.from([0x63, 0x61, 0x66, 0xe9]), 'the byte as it came')
  t.same(result(logs, 'p', authority), { status: Ok, ptr: 0, size: 0, bytes: Buffer.alloc(0) })
  t.equal(seen, 'caf\xe9 \xff', 'the handler sees the bytes as Node decodes request headers (latin1)')
  t.ok(buffer.includes('\r\nx-resp: caf\xe9 \xff\r\n'), 'a Buffer body: the bytes go out unchanged')
  const string = await rawRequest(app, 'GET /string HTTP/1.0\r\n')
  t.ok(string.includes('\r\nx-resp: caf\xe9 \xff\r\n'), 'a string body: the bytes go out unchanged')
})

test('while a filter holds the headers, a tick may still edit them through the effective context', async t => {
  const p = new Program()
  p.call(REQ, Fn.TickPeriod, [1])
  p.ret(REQ, 1)
  p.ret(RES, 1)
  // First tick: the request is held. Second: the response is held.
  p.call(Phase.Tick, Fn.Effective, [v(Var.Stream)])
  const add = p.add(Phase.Tick, Maps.RequestHeaders, 'x-from-tick', 'yes')
  const path = p.replace(Phase.Tick, Maps.RequestHeaders, ':path', '/held?t=1')
  const rAdd = p.add(Phase.Tick, Maps.ResponseHeaders, 'x-res-tick', 'yes')
  const rStatus = p.replace(Phase.Tick, Maps.ResponseHeaders, ':status', '203')
  p.call(Phase.Tick, Fn.Continue, [0])
  p.call(Phase.Tick, Fn.Continue, [1])
  p.call(Phase.Log, Fn.TickPeriod, [0])
  const { app, logs } = await buildApp(t, { configs: [probe('p', p)] })
  const seen = recordingRoute(app)
  const res = await app.inject('/held')
  t.equal(seen[0].headers['x-from-tick'], 'yes')
  t.equal(seen[0].url, '/held?t=1')
  t.same(seen[0].query, { t: '1' })
  t.equal(res.statusCode, 203)
  t.equal(res.headers['x-res-tick'], 'yes')
  // Which tick held which phase: request edits succeed while the request is held, response edits while the response is.
  const statuses = (i: number) => runs(logs, 'p', i).map(r => r.status)
  t.equal(statuses(add)[0], Ok)
  t.equal(statuses(path)[0], Ok)
  t.equal(statuses(rAdd)[0], BadArgument, 'no response yet during the first tick')
  t.ok(statuses(rAdd).includes(Ok), 'the response, once held, takes edits')
  t.ok(statuses(rStatus).includes(Ok))
  t.equal(statuses(add).at(-1), BadArgument, 'the request headers are read-only once the response is held')
})
