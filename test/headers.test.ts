import { test } from 'tap'
import { request as httpRequest, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import { buildApp, filter, type logCapture } from './helpers/app'
import { wat } from './helpers/fixtures'

// The hdr-probe fixture runs the script in its configuration and logs
// "<phase> <op> <args> -> <status>[ <hex or number>]" per command.
type Logs = ReturnType<typeof logCapture>
interface Ran { status: number, out: string | undefined }

const probe = (name: string, script: string[]) => filter(name, wat('hdr-probe'), { configuration: script.join('\n') })

function ran (logs: Logs, name: string): Map<string, Ran> {
  const out = new Map<string, Ran>()
  for (const m of logs.filterMessages(name)) {
    const r = /^(\w+ \w+(?: \S+)*) -> (\d+)(?: (\S*))?$/.exec(m)
    if (r !== null && !out.has(r[1])) out.set(r[1], { status: Number(r[2]), out: r[3] })
  }
  return out
}

/** The result of one command; fails loudly when the probe never ran it. */
function one (res: Map<string, Ran>, cmd: string): Ran {
  const r = res.get(cmd)
  if (r === undefined) throw new Error(`the probe did not run ${JSON.stringify(cmd)}; ran: ${[...res.keys()].join(' | ')}`)
  return r
}

const status = (res: Map<string, Ran>, cmd: string) => one(res, cmd).status
const text = (r: Ran) => Buffer.from(r.out ?? '', 'hex').toString('latin1')

type Pairs = [string, string][]

/** The ABI's pairs encoding, written out independently of lib/abi/pairs.ts. */
function encode (pairs: Pairs): Buffer {
  const parts: Buffer[] = []
  const head = Buffer.alloc(4 + pairs.length * 8)
  head.writeUInt32LE(pairs.length, 0)
  pairs.forEach(([k, v], i) => {
    head.writeUInt32LE(Buffer.byteLength(k, 'latin1'), 4 + i * 8)
    head.writeUInt32LE(Buffer.byteLength(v, 'latin1'), 8 + i * 8)
    parts.push(Buffer.from(k, 'latin1'), Buffer.of(0), Buffer.from(v, 'latin1'), Buffer.of(0))
  })
  return Buffer.concat([head, ...parts])
}
const hex = (pairs: Pairs) => encode(pairs).toString('hex')

function decode (bytes: Buffer): Pairs {
  if (bytes.length === 0) return []
  const n = bytes.readUInt32LE(0)
  let at = 4 + n * 8
  const out: Pairs = []
  for (let i = 0; i < n; i++) {
    const k = bytes.readUInt32LE(4 + i * 8)
    const v = bytes.readUInt32LE(8 + i * 8)
    out.push([bytes.toString('latin1', at, at + k), bytes.toString('latin1', at + k + 1, at + k + 1 + v)])
    at += k + v + 2
  }
  return out
}
const pairsOf = (r: Ran) => decode(Buffer.from(r.out ?? '', 'hex'))
/** What proxy_get_header_map_size reports (Envoy's byteSize()): the sum of name and value lengths. */
const byteSize = (pairs: Pairs) => pairs.reduce((n, [k, v]) => n + k.length + v.length, 0)

/** Percent-encodes what the probe's tokens cannot carry (spaces, controls, %, non-ASCII). */
const pct = (s: string) => s.replace(/[^\x21-\x24\x26-\x7e]/g, c => '%' + c.charCodeAt(0).toString(16).padStart(2, '0'))

// What app.inject sends besides the test's own headers.
const INJECT_UA: [string, string] = ['user-agent', 'lightMyRequest']
const pseudo = (path: string, method = 'GET'): Pairs => [[':authority', 'localhost:80'], [':path', path], [':method', method], [':scheme', 'http']]

test('get_header_map_pairs: pseudo-headers first, then the headers lower-cased in arrival order, byte for byte', async t => {
  const { app, logs } = await buildApp(t, { configs: [probe('p', ['req pairs 0', 'req size 0'])] })
  app.get('/*', async () => 'ok')
  const res = await app.inject({ url: '/a/b?x=1&y=2', headers: { 'X-Multi': ['1', '2'], 'X-Empty': '', 'X-Case': 'MiXeD' } })
  t.equal(res.statusCode, 200)
  const expected: Pairs = [...pseudo('/a/b?x=1&y=2'), ['x-multi', '1'], ['x-multi', '2'], ['x-empty', ''], ['x-case', 'MiXeD'], INJECT_UA]
  const r = ran(logs, 'p')
  t.equal(status(r, 'req pairs 0'), 0)
  t.equal(one(r, 'req pairs 0').out, hex(expected), 'exact serialized bytes: u32 count, u32 size pairs, NUL-terminated names and values')
  t.same(pairsOf(one(r, 'req pairs 0')), expected)
  t.equal(one(r, 'req size 0').out, String(byteSize(expected)))
  t.ok(logs.filterMessages('p').includes(`req args ${expected.length} 1`), 'num_headers is the map size; a GET ends the stream')
})

test('a local reply carries the request map as its body, byte for byte, over a real connection', async t => {
  const { app, logs } = await buildApp(t, { configs: [filter('echo', wat('local-echo'))] })
  let handled = 0
  app.get('/*', async () => { handled++; return 'route' })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  const res = await new Promise<{ msg: IncomingMessage, body: Buffer }>((resolve, reject) => {
    const req = httpRequest({
      host: '127.0.0.1',
      port,
      path: '/echo?q=%20x',
      headers: { 'X-First': 'one', Cookie: 'a=1', 'x-latin': Buffer.from('caf\xe9', 'latin1').toString('latin1'), 'X-Dup': ['1', '2'] }
    }, msg => {
      const chunks: Buffer[] = []
      msg.on('data', c => chunks.push(c))
      msg.on('end', () => resolve({ msg, body: Buffer.concat(chunks) }))
    })
    req.on('error', reject)
    req.end()
  })
  t.equal(res.msg.statusCode, 200)
  t.equal(res.msg.headers['content-type'], 'application/octet-stream')
  const expected: Pairs = [
    [':authority', `127.0.0.1:${port}`], [':path', '/echo?q=%20x'], [':method', 'GET'], [':scheme', 'http'],
    ['x-first', 'one'], ['cookie', 'a=1'], ['x-latin', 'caf\xe9'], ['x-dup', '1'], ['x-dup', '2']
  ]
  t.same(decode(res.body), expected, 'host only as :authority, connection hidden')
  t.equal(res.body.toString('hex'), hex(expected))
  t.equal(handled, 0)
  t.equal(logs.lines.find(l => l.msg === 'proxy-wasm: local reply')?.details, 'echo_request')
})

test('a local reply from on_response_headers carries the response map, byte for byte', async t => {
  const { app } = await buildApp(t, { configs: [filter('echo', wat('local-echo'))] })
  app.get('/', async (_req, reply) => reply.code(201).header('X-Route', 'r').header('x-two', ['a', 'b']).send('body'))
  const res = await app.inject({ url: '/', headers: { 'x-echo': 'response' } })
  t.equal(res.statusCode, 200)
  t.same(decode(res.rawPayload), [[':status', '201'], ['x-route', 'r'], ['x-two', 'a'], ['x-two', 'b'], ['content-type', 'text/plain; charset=utf-8']])
})

test('get_header_map_value: case-insensitive, first of several values, empty is Ok, missing is NotFound', async t => {
  const { app, logs } = await buildApp(t, {
    configs: [probe('p', [
      'req get 0 X-MULTI', 'req get 0 x-empty', 'req get 0 x-missing', 'req get 0 :METHOD', 'req get 0 :authority',
      'req get 0 :Path', 'req get 0 :scheme', 'req get 0 host', 'req get 0 ""', 'req get 0 connection',
      'res get 2 :STATUS', 'res get 2 X-Route', 'res get 2 x-empty-resp', 'res get 2 x-nope'
    ])]
  })
  app.get('/*', async (_req, reply) => reply.header('x-route', ['r1', 'r2']).header('x-empty-resp', '').send('ok'))
  const res = await app.inject({ url: '/p?q', headers: { 'x-multi': ['first', 'second'], 'x-empty': '' } })
  t.equal(res.statusCode, 200)
  const r = ran(logs, 'p')
  t.equal(text(one(r, 'req get 0 X-MULTI')), 'first')
  t.same(one(r, 'req get 0 x-empty'), { status: 0, out: '' }, 'present but empty: Ok, size 0, pointer 0')
  t.same(one(r, 'req get 0 x-missing'), { status: 1, out: undefined }, 'NotFound')
  t.equal(text(one(r, 'req get 0 :METHOD')), 'GET')
  t.equal(text(one(r, 'req get 0 :authority')), 'localhost:80')
  t.equal(text(one(r, 'req get 0 :Path')), '/p?q')
  t.equal(text(one(r, 'req get 0 :scheme')), 'http')
  t.equal(status(r, 'req get 0 host'), 1, 'the host header is only :authority')
  t.equal(status(r, 'req get 0 ""'), 1)
  t.equal(status(r, 'req get 0 connection'), 1, 'hop-by-hop headers are hidden')
  t.equal(text(one(r, 'res get 2 :STATUS')), '200')
  t.equal(text(one(r, 'res get 2 X-Route')), 'r1')
  t.same(one(r, 'res get 2 x-empty-resp'), { status: 0, out: '' })
  t.equal(status(r, 'res get 2 x-nope'), 1)
})

test('ABI 0.1.0: a missing header is Ok with an empty value; two-argument callbacks; continue_request', async t => {
  const { app, logs } = await buildApp(t, { configs: [filter('old', wat('hdr-abi010'))] })
  app.get('/', async req => req.headers['x-abi'])
  const res = await app.inject({ url: '/', headers: { 'x-present': 'yes', 'x-empty': '' } })
  t.equal(res.statusCode, 200)
  t.equal(res.body, '0.1.0', 'the stop returned after continue_request did not hold the request')
  const msgs = logs.filterMessages('old')
  t.equal(msgs[0], 'args 7', 'num_headers: four pseudo-headers, x-present, x-empty, user-agent')
  t.equal(msgs[1], 'x-missing 0 0 0 ', 'missing: Ok with pointer 0 and size 0')
  t.equal(msgs[2], 'x-empty 0 0 0 ', 'empty: the same')
  t.equal(msgs[4], 'continue 0')
  const present = /^X-Present (\d+) (\d+) (\d+) (\w+)$/.exec(msgs[3])
  t.ok(present, 'X-Present was found')
  t.equal(present?.[1], '0')
  t.not(present?.[2], '0', 'a non-empty value is allocated')
  t.equal(present?.[3], '3')
  t.equal(present?.[4], Buffer.from('yes').toString('hex'))
})

test('num_headers and end_of_stream: 1 for a GET, 0 for a POST with a body; the count follows earlier edits', async t => {
  const { app, logs } = await buildApp(t, {
    configs: [probe('first', ['req add 0 x-one 1', 'req add 0 x-two 2', 'req remove 0 user-agent']), probe('second', ['req pairs 0', 'res pairs 2'])]
  })
  app.get('/', async () => 'ok')
  app.post('/', async () => 'posted')
  app.get('/empty', async (_req, reply) => reply.code(204).send())
  await app.inject({ url: '/' })
  t.ok(logs.filterMessages('first').includes('req args 5 1'), 'four pseudo-headers and user-agent')
  t.ok(logs.filterMessages('second').includes('req args 6 1'), 'two added, one removed by the first filter')
  t.equal(pairsOf(one(ran(logs, 'second'), 'req pairs 0')).length, 6)
  const resArgs = logs.filterMessages('second').find(m => m.startsWith('res args '))
  t.equal(resArgs, `res args ${pairsOf(one(ran(logs, 'second'), 'res pairs 2')).length} 0`, 'a response with a body')

  logs.lines.length = 0
  const post = await app.inject({ method: 'POST', url: '/', payload: 'hello', headers: { 'content-type': 'text/plain' } })
  t.equal(post.body, 'posted')
  // :authority :path :method :scheme content-type user-agent content-length
  t.ok(logs.filterMessages('first').includes('req args 7 0'), 'a POST with a body does not end the stream')

  logs.lines.length = 0
  await app.inject({ url: '/empty' })
  t.match(logs.filterMessages('second').find(m => m.startsWith('res args ')), /^res args \d+ 1$/, 'an empty response ends the stream')
})

test('writes: names lower-cased, add keeps duplicates, replace collapses them, remove drops every value', async t => {
  const { app, logs } = await buildApp(t, {
    configs: [probe('p', [
      'req add 0 X-Added one', 'req add 0 x-added two', 'req replace 0 X-Multi only', 'req remove 0 X-Remove',
      'req remove 0 x-not-there', 'req replace 0 X-New fresh', 'req add 0 x-empty-added ""', 'req pairs 0',
      'res add 2 X-Resp-Added a', 'res add 2 x-resp-added b', 'res remove 2 X-From-Route', 'res replace 2 x-route-multi one',
      'res replace 2 x-resp-new n', 'res pairs 2'
    ])]
  })
  let seen: Record<string, unknown> = {}
  app.get('/', async (req, reply) => {
    seen = { ...req.headers }
    reply.header('x-from-route', 'bye').header('x-route-multi', ['1', '2']).header('x-kept', 'k')
    return 'ok'
  })
  const res = await app.inject({ url: '/', headers: { 'x-multi': ['1', '2'], 'x-remove': ['a', 'b'], 'x-kept-req': 'k' } })
  t.equal(res.statusCode, 200)
  const r = ran(logs, 'p')
  for (const [cmd, st] of r) if (!cmd.includes('pairs')) t.equal(st.status, 0, cmd)
  t.same(pairsOf(one(r, 'req pairs 0')), [
    ...pseudo('/'), ['x-multi', 'only'], ['x-kept-req', 'k'], INJECT_UA,
    ['x-added', 'one'], ['x-added', 'two'], ['x-new', 'fresh'], ['x-empty-added', '']
  ])
  t.equal(seen['x-added'], 'one, two', 'the handler sees both values')
  t.equal(seen['x-multi'], 'only')
  t.equal(seen['x-remove'], undefined)
  t.equal(seen['x-new'], 'fresh')
  t.equal(seen['x-empty-added'], '')
  t.equal(seen['x-kept-req'], 'k')
  t.same(pairsOf(one(r, 'res pairs 2')).filter(([k]) => k.startsWith('x-')), [
    ['x-route-multi', 'one'], ['x-kept', 'k'], ['x-resp-added', 'a'], ['x-resp-added', 'b'], ['x-resp-new', 'n']
  ])
  t.equal(res.headers['x-from-route'], undefined, 'a removed response header does not reach the client')
  t.equal(res.headers['x-route-multi'], 'one')
  t.same(res.raw.res.getHeader('x-resp-added'), ['a', 'b'], 'two header lines')
  t.equal(res.headers['x-resp-new'], 'n')
  t.equal(res.headers['x-kept'], 'k')
})

test('response edits reach a real client as separate header lines', async t => {
  const { app } = await buildApp(t, {
    configs: [probe('p', ['res add 2 Set-Cookie a=1', 'res add 2 set-cookie b=2', 'res add 2 x-dup 1', 'res add 2 x-dup 2', 'res remove 2 x-secret', 'res remove 2 content-type'])]
  })
  app.get('/', async (_req, reply) => reply.header('x-secret', 'hide me').send({ json: true }))
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  const msg = await new Promise<IncomingMessage>((resolve, reject) => {
    httpRequest({ host: '127.0.0.1', port, path: '/' }, m => { m.resume(); m.on('end', () => resolve(m)) }).on('error', reject).end()
  })
  t.equal(msg.statusCode, 200)
  const lines: Pairs = []
  for (let i = 0; i < msg.rawHeaders.length; i += 2) lines.push([msg.rawHeaders[i].toLowerCase(), msg.rawHeaders[i + 1]])
  t.same(lines.filter(([k]) => k === 'set-cookie'), [['set-cookie', 'a=1'], ['set-cookie', 'b=2']])
  t.same(lines.filter(([k]) => k === 'x-dup'), [['x-dup', '1'], ['x-dup', '2']], 'each value on its own line, as Envoy sends them')
  t.notOk(lines.some(([k]) => k === 'x-secret'))
  t.notOk(lines.some(([k]) => k === 'content-type'), 'a removed content-type stays removed')
})

test(':path, :method and :authority rewrites are what the route sees', async t => {
  const { app, logs } = await buildApp(t, {
    configs: [probe('p', ['req replace 0 :path /rewritten?q=2&r=x%2520y', 'req replace 0 :method PATCH', 'req add 0 :authority example.test:8080', 'req pairs 0'])]
  })
  app.get('/orig', async req => ({ url: req.url, query: req.query, method: req.method, host: req.headers.host }))
  const res = await app.inject({ url: '/orig?q=1' })
  t.equal(res.statusCode, 200)
  for (const [cmd, r] of ran(logs, 'p')) t.equal(r.status, 0, cmd)
  t.same(res.json(), { url: '/rewritten?q=2&r=x%20y', query: { q: '2', r: 'x y' }, method: 'PATCH', host: 'example.test:8080' })
  t.same(pairsOf(one(ran(logs, 'p'), 'req pairs 0')), [
    [':authority', 'example.test:8080'], [':path', '/rewritten?q=2&r=x%20y'], [':method', 'PATCH'], [':scheme', 'http'], INJECT_UA
  ], 'adding a pseudo-header replaces it: one value each')
})

test('invalid pseudo-header writes are BadArgument and change nothing', async t => {
  const { app, logs } = await buildApp(t, {
    configs: [probe('p', [
      'req replace 0 :path no-slash', 'req replace 0 :path /with%20space', 'req replace 0 :path ""', 'req replace 0 :method G%20T',
      'req replace 0 :method ""', 'req replace 0 :scheme ftp', 'req replace 0 :authority a%20b', 'req add 0 :unknown x', 'req add 0 :status 200',
      'req remove 0 :path', 'req remove 0 :authority', 'req pairs 0',
      'res replace 2 :status 99', 'res replace 2 :status 600', 'res replace 2 :status abc', 'res replace 2 :status 1000', 'res replace 2 :status ""',
      'res add 2 :path /x', 'res remove 2 :status', 'res get 2 :status'
    ])]
  })
  app.get('/orig', async req => ({ url: req.url, method: req.method }))
  const res = await app.inject({ url: '/orig' })
  t.equal(res.statusCode, 200)
  t.same(res.json(), { url: '/orig', method: 'GET' })
  const r = ran(logs, 'p')
  for (const [cmd, st] of r) if (!cmd.includes('pairs') && !cmd.includes(' get ')) t.equal(st.status, 2, cmd)
  t.same(pairsOf(one(r, 'req pairs 0')), [...pseudo('/orig'), INJECT_UA])
  t.equal(text(one(r, 'res get 2 :status')), '200')
})

test(':status rewrites are what the client gets', async t => {
  const { app, logs } = await buildApp(t, { configs: [probe('p', ['res replace 2 :status 418', 'res add 2 :status 203', 'res pairs 2'])] })
  app.get('/', async () => 'ok')
  const res = await app.inject({ url: '/' })
  t.equal(res.statusCode, 203)
  t.equal(res.body, 'ok')
  const r = ran(logs, 'p')
  t.equal(status(r, 'res replace 2 :status 418'), 0)
  t.equal(status(r, 'res add 2 :status 203'), 0)
  t.same(pairsOf(one(r, 'res pairs 2')).filter(([k]) => k === ':status'), [[':status', '203']], 'one :status')
})

test('set_header_map_pairs replaces the whole map; left-out pseudo-headers keep their values and places', async t => {
  const reqPairs: Pairs = [['x-only', '1'], ['X-Upper', 'V'], ['x-only', '2']]
  const { app, logs } = await buildApp(t, {
    configs: [probe('p', [
      `req set 0 ${hex(reqPairs)}`, 'req pairs 0',
      `res set 2 ${hex([['x-set', 'yes'], ['content-type', 'text/x-set']])}`, 'res pairs 2'
    ])]
  })
  let seen: Record<string, unknown> = {}
  app.get('/*', async (req, reply) => { seen = { ...req.headers }; return reply.code(202).header('x-route', 'gone').send('body') })
  const res = await app.inject({ url: '/set?a=1', headers: { 'x-old': 'gone' } })
  const r = ran(logs, 'p')
  t.equal(status(r, `req set 0 ${hex(reqPairs)}`), 0)
  t.same(pairsOf(one(r, 'req pairs 0')), [...pseudo('/set?a=1'), ['x-only', '1'], ['x-upper', 'V'], ['x-only', '2']])
  t.same(seen, { host: 'localhost:80', 'x-only': '1, 2', 'x-upper': 'V' }, 'user-agent and x-old are gone')
  t.same(pairsOf(one(r, 'res pairs 2')), [[':status', '202'], ['x-set', 'yes'], ['content-type', 'text/x-set']])
  t.equal(res.statusCode, 202)
  t.equal(res.headers['x-set'], 'yes')
  t.equal(res.headers['x-route'], undefined)
  t.equal(res.headers['content-type'], 'text/x-set')
  t.equal(res.body, 'body')
})

test('set_header_map_pairs may rewrite pseudo-headers, once each', async t => {
  const rewrite = hex([[':path', '/new?z=9'], [':method', 'DELETE'], ['x-a', 'b']])
  const twice = hex([[':path', '/one'], [':path', '/two']])
  const { app, logs } = await buildApp(t, { configs: [probe('p', [`req set 0 ${twice}`, `req set 0 ${rewrite}`, 'req pairs 0'])] })
  app.get('/*', async req => ({ url: req.url, method: req.method, query: req.query }))
  const res = await app.inject({ url: '/old' })
  t.same(res.json(), { url: '/new?z=9', method: 'DELETE', query: { z: '9' } })
  const r = ran(logs, 'p')
  t.equal(status(r, `req set 0 ${twice}`), 2, 'a pseudo-header given twice')
  t.same(pairsOf(one(r, 'req pairs 0')), [[':authority', 'localhost:80'], [':scheme', 'http'], [':path', '/new?z=9'], [':method', 'DELETE'], ['x-a', 'b']])
})

test('malformed serialized pairs are BadArgument and leave the map unchanged', async t => {
  const valid = encode([['a', 'b']]).toString('hex') // 01000000 01000000 01000000 6100 6200
  const cases = {
    'count only': '01000000',
    'sizes only': '010000000100000001000000',
    'value missing': '0100000001000000010000006100',
    'truncated value': '01000000010000000300000061006263',
    'missing NUL after name': '010000000100000001000000617862' + '00',
    'missing NUL after value': '01000000010000000100000061006278',
    'trailing byte': valid + '00',
    'trailing pair bytes': valid + '610062',
    'name length overruns': '01000000ffffffff010000006100620' + '0',
    'count over the table': '0200000001000000010000006100620' + '0',
    'count over 1024': '01040000',
    'one non-zero byte': '01',
    'three bytes': '000000',
    'CRLF in a value': hex([['x-a', 'b\r\nx-evil: 1']]),
    'NUL in a value': hex([['x-a', 'b\0c']]),
    'space in a name': hex([['x a', 'b']]),
    'empty name': hex([['', 'b']]),
    'unknown pseudo-header': hex([[':foo', 'b']]),
    'invalid :path': hex([[':path', 'nope']]),
    'response pseudo-header in the request': hex([[':status', '200']])
  }
  const script = [...Object.values(cases).map(h => `req set 0 ${h}`), 'req pairs 0', `res set 2 ${hex([[':status', '9']])}`, `res set 2 ${hex([[':path', '/']])}`]
  const { app, logs } = await buildApp(t, { configs: [probe('p', script)] })
  let seen: Record<string, unknown> = {}
  app.get('/*', async req => { seen = { ...req.headers }; return 'ok' })
  const res = await app.inject({ url: '/m', headers: { 'x-keep': 'yes' } })
  t.equal(res.statusCode, 200, 'the request still succeeds')
  const r = ran(logs, 'p')
  for (const [name, h] of Object.entries(cases)) t.equal(status(r, `req set 0 ${h}`), 2, name)
  t.same(pairsOf(one(r, 'req pairs 0')), [...pseudo('/m'), ['x-keep', 'yes'], INJECT_UA], 'the map is unchanged')
  t.same(seen, { host: 'localhost:80', 'x-keep': 'yes', 'user-agent': 'lightMyRequest' })
  t.equal(status(r, `res set 2 ${hex([[':status', '9']])}`), 2)
  t.equal(status(r, `res set 2 ${hex([[':path', '/']])}`), 2)
})

test('set_header_map_pairs takes up to 1024 pairs', async t => {
  const many = (n: number) => hex(Array.from({ length: n }, () => ['a', 'b'] as [string, string]))
  const { app, logs } = await buildApp(t, { configs: [probe('p', [`req set 0 ${many(1025)}`, 'req size 0', `req set 0 ${many(1024)}`, 'req size 0'])] })
  let seen: string | undefined
  app.get('/', async req => { seen = req.headers.a as string; return 'ok' })
  await app.inject({ url: '/' })
  const sizes = logs.filterMessages('p').filter(m => m.startsWith('req size 0 -> 0 ')).map(m => Number(m.split(' ').pop()))
  t.same(sizes, [byteSize([...pseudo('/'), INJECT_UA]), byteSize(pseudo('/')) + 1024 * 'ab'.length])
  const statuses = logs.filterMessages('p').filter(m => m.startsWith('req set 0 ')).map(m => m.split(' -> ')[1])
  t.same(statuses, ['2', '0'], '1025 pairs rejected (the map unchanged), 1024 accepted')
  t.equal(seen?.split(', ').length, 1024)
})

test('empty maps: size 0, one NUL byte and a zero count are all accepted', async t => {
  const { app, logs } = await buildApp(t, {
    configs: [probe('p', [
      'req set 0 ""', 'req pairs 0', 'req add 0 x-a 1', 'req set 0 00', 'req pairs 0', 'req add 0 x-b 1', 'req set 0 00000000', 'req pairs 0',
      'res set 2 00000000', 'res pairs 2'
    ])]
  })
  let seen: Record<string, unknown> = {}
  app.get('/', async (req, reply) => { seen = { ...req.headers }; return reply.header('x-route', '1').send('ok') })
  const res = await app.inject({ url: '/', headers: { 'x-gone': '1' } })
  const msgs = logs.filterMessages('p')
  t.same(msgs.filter(m => m.startsWith('req set 0 ')).map(m => m.split(' -> ')[1]), ['0', '0', '0'])
  for (const m of msgs.filter(m => m.startsWith('req pairs 0 -> '))) {
    t.same(decode(Buffer.from(m.split(' ').pop()!, 'hex')), pseudo('/'), m.slice(0, 20))
  }
  t.same(seen, { host: 'localhost:80' })
  t.equal(status(ran(logs, 'p'), 'res set 2 00000000'), 0)
  t.same(pairsOf(one(ran(logs, 'p'), 'res pairs 2')), [[':status', '200']])
  t.equal(res.statusCode, 200)
  t.equal(res.headers['x-route'], undefined)
  t.equal(res.body, 'ok')
})

test('unknown map types are BadArgument for every header function', async t => {
  const ops = (type: string) => [`get ${type} x`, `pairs ${type}`, `size ${type}`, `add ${type} x y`, `replace ${type} x y`, `remove ${type} x`, `set ${type} 00000000`]
  const script = ['8', '4294967295', '2147483648'].flatMap(ty => ops(ty).map(op => `req ${op}`))
  const { app, logs } = await buildApp(t, { configs: [probe('p', script)] })
  app.get('/', async () => 'ok')
  const res = await app.inject({ url: '/' })
  t.equal(res.statusCode, 200)
  const r = ran(logs, 'p')
  for (const line of script) t.equal(status(r, line), 2, line)
})

test('maps a phase does not have: reads are BadArgument (pairs: Ok and empty), writes BadArgument', async t => {
  const { app, logs } = await buildApp(t, {
    configs: [probe('p', [
      // no response yet; callout and gRPC maps only exist in their callbacks
      'req get 2 :status', 'req size 2', 'req pairs 2', 'req add 2 x y', 'req replace 2 x y', 'req remove 2 x', 'req set 2 00000000',
      'req get 6 :status', 'req pairs 6', 'req pairs 4', 'req pairs 5', 'req pairs 7', 'req add 6 x y', 'req get 4 x',
      // the request phase is over: request headers are read-only
      'res get 0 :path', 'res add 0 x-late 1', 'res replace 0 x-late 1', 'res remove 0 user-agent', 'res set 0 00000000',
      // after the response: everything read-only
      'log get 0 :path', 'log get 2 :status', 'log pairs 2', 'log add 0 x y', 'log add 2 x y', 'log replace 2 :status 500', 'log remove 2 content-type', 'log set 2 00000000',
      'done get 2 :status'
    ])]
  })
  app.get('/p', async () => 'ok')
  const res = await app.inject({ url: '/p' })
  t.equal(res.statusCode, 200, 'the request still succeeds')
  t.equal(res.headers['x-y'], undefined)
  const r = ran(logs, 'p')
  for (const cmd of ['req get 2 :status', 'req size 2', 'req add 2 x y', 'req replace 2 x y', 'req remove 2 x', 'req set 2 00000000',
    'req get 6 :status', 'req add 6 x y', 'req get 4 x']) t.equal(status(r, cmd), 2, cmd)
  for (const cmd of ['req pairs 2', 'req pairs 6', 'req pairs 4', 'req pairs 5', 'req pairs 7']) t.same(one(r, cmd), { status: 0, out: '' }, `${cmd}: Ok, pointer 0, size 0`)
  t.equal(text(one(r, 'res get 0 :path')), '/p', 'request headers stay readable')
  for (const cmd of ['res add 0 x-late 1', 'res replace 0 x-late 1', 'res remove 0 user-agent', 'res set 0 00000000']) t.equal(status(r, cmd), 2, cmd)
  t.equal(text(one(r, 'log get 0 :path')), '/p')
  t.equal(text(one(r, 'log get 2 :status')), '200')
  t.same(pairsOf(one(r, 'log pairs 2'))[0], [':status', '200'])
  for (const cmd of ['log add 0 x y', 'log add 2 x y', 'log replace 2 :status 500', 'log remove 2 content-type', 'log set 2 00000000']) t.equal(status(r, cmd), 2, cmd)
  t.equal(text(one(r, 'done get 2 :status')), '200')
})

test('invalid names and values are BadArgument; the request goes on without them', async t => {
  const bad = [
    ['x-cr', 'a\rb'], ['x-lf', 'a\nb'], ['x-crlf', 'a\r\nx-injected: 1'], ['x-nul', 'a\0b'], ['x-ctl', 'a\x01b'], ['x-del', 'a\x7fb'],
    ['x bad', 'v'], ['x:colon', 'v'], ['', 'v'], ['x\0nul', 'v'], ['x(paren)', 'v'], ['x\u00e9', 'v'], [':unknown', 'v'], ['x\r\ny', 'v']
  ]
  const good = [['x-tab', 'a\tb'], ['x-latin', 'caf\u00e9'], ["!#$%&'*+-.^_`|~09az", 'token'], ['x-spaces', ' padded ']]
  const script: string[] = []
  for (const phase of ['req', 'res']) {
    const type = phase === 'req' ? 0 : 2
    for (const op of ['add', 'replace']) for (const [k, v] of bad) script.push(`${phase} ${op} ${type} ${k === '' ? '""' : pct(k)} ${pct(v)}`)
    for (const [k, v] of good) script.push(`${phase} add ${type} ${pct(k)} ${pct(v)}`)
  }
  const { app, logs } = await buildApp(t, { configs: [probe('p', script)] })
  let seen: Record<string, unknown> = {}
  app.get('/', async req => { seen = { ...req.headers }; return 'ok' })
  const res = await app.inject({ url: '/' })
  t.equal(res.statusCode, 200)
  const r = ran(logs, 'p')
  for (const line of script) {
    const isGood = good.some(([k]) => line.includes(` ${pct(k)} `))
    t.equal(status(r, line), isGood ? 0 : 2, line)
  }
  t.same(Object.keys(seen).filter(k => k.startsWith('x') || k.startsWith('!')).sort(), ["!#$%&'*+-.^_`|~09az", 'x-latin', 'x-spaces', 'x-tab'])
  t.equal(seen['x-tab'], 'a\tb')
  t.equal(seen['x-latin'], 'caf\u00e9', 'latin1 bytes pass unchanged')
  t.equal(res.headers['x-tab'], 'a\tb')
  t.equal(res.headers["!#$%&'*+-.^_`|~09az"], 'token')
  t.equal(res.headers['x-injected'], undefined)
  t.equal(res.headers['x-cr'], undefined)
})

test('pointers and lengths outside memory are InvalidMemoryAccess; unknown types are checked first', async t => {
  const { app, logs } = await buildApp(t, { configs: [filter('edge', wat('hdr-edge'))] })
  let seen: Record<string, unknown> = {}
  app.get('/', async req => { seen = { ...req.headers }; return 'ok' })
  const res = await app.inject({ url: '/' })
  t.equal(res.statusCode, 200, 'no local reply was sent, nothing trapped')
  const got = Object.fromEntries(logs.filterMessages('edge').map(m => m.split(' ')).map(([k, v]) => [k, Number(v)]))
  const expected: Record<string, number> = {
    'get-key-oob': 6,
    'get-key-wrap': 6,
    'get-key-straddle': 6,
    'get-ret-ptr-oob': 6,
    'get-ret-size-oob': 6,
    'get-ret-straddle': 6,
    'get-type8-key-oob': 2,
    'pairs-ret-ptr-oob': 6,
    'pairs-ret-size-oob': 6,
    'pairs-ret-straddle': 6,
    'pairs-type8-ret-oob': 2,
    'size-ret-oob': 6,
    'size-ret-straddle': 6,
    'size-type8-ret-oob': 2,
    'add-key-oob': 6,
    'add-value-oob': 6,
    'add-value-wrap': 6,
    'add-type8-key-oob': 2,
    'replace-key-oob': 6,
    'replace-value-oob': 6,
    'remove-key-oob': 6,
    'remove-key-wrap': 6,
    'set-oob': 6,
    'set-wrap': 6,
    'set-straddle': 6,
    'set-type8-oob': 2,
    'local-details-oob': 6,
    'local-body-oob': 6,
    'local-headers-oob': 6,
    'local-headers-wrap': 6,
    'null-value': 0,
    'end-value': 0,
    'empty-key-at-0': 1
  }
  t.same(got, expected)
  t.equal(seen['x-edge'], undefined, 'no failed write got through')
  t.equal(seen['x-null'], '')
  t.equal(seen['x-end'], '')
})
