import { test } from 'tap'
import { request as httpRequest, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import { buildApp, filter, type logCapture } from './helpers/app'
import { wat } from './helpers/fixtures'

// The prop-probe fixture logs "<phase> <op> <arg> -> <status>[ <hex>]" per command.
interface Result { status: number, hex: string | undefined, nonNullEmpty: boolean }

function results (logs: ReturnType<typeof logCapture>, name: string): Map<string, Result> {
  const out = new Map<string, Result>()
  for (const m of logs.filterMessages(name)) {
    const r = /^(\w+ (?:get|set) .*) -> (\d+)(?: ([0-9a-f]*)(!?))?$/.exec(m)
    if (r !== null) out.set(r[1], { status: Number(r[2]), hex: r[3], nonNullEmpty: r[4] === '!' })
  }
  return out
}

/** The result of one command; fails the test when the probe never ran it. */
function one (res: Map<string, Result>, key: string): Result {
  const r = res.get(key)
  if (r === undefined) throw new Error(`the probe did not run ${JSON.stringify(key)}; ran: ${[...res.keys()].join(', ')}`)
  return r
}

const text = (r: Result) => Buffer.from(r.hex ?? '', 'hex').toString('latin1')
const int64 = (r: Result) => {
  const b = Buffer.from(r.hex ?? '', 'hex')
  if (b.length !== 8) throw new Error(`expected 8 bytes, got ${b.length}`)
  return b.readBigInt64LE()
}

/** Decodes the pairs format (count, sizes, NUL-terminated names and values). */
function pairs (r: Result): [string, string][] {
  const b = Buffer.from(r.hex ?? '', 'hex')
  const n = b.readUInt32LE(0)
  let at = 4 + n * 8
  const out: [string, string][] = []
  for (let i = 0; i < n; i++) {
    const k = b.readUInt32LE(4 + i * 8)
    const v = b.readUInt32LE(8 + i * 8)
    out.push([b.toString('latin1', at, at + k), b.toString('latin1', at + k + 1, at + k + 1 + v)])
    at += k + v + 2
  }
  return out
}

const probe = (name: string, extra: Record<string, unknown> = {}, vm: Record<string, unknown> = {}) => filter(name, wat('prop-probe'), extra, vm)

test('request attributes: strings as bytes, integers as 8-byte little-endian', async t => {
  const { app, logs } = await buildApp(t, { configs: [probe('p')] })
  app.all('/*', async () => 'ok')
  const gets = ['request|path', 'request|url_path', 'request|query', 'request|host', 'request|scheme', 'request|method',
    'request|referer', 'request|useragent', 'request|id', 'request|protocol', 'request|time', 'request|size', 'request|total_size']
  const before = BigInt(Date.now()) * 1_000_000n
  const res = await app.inject({
    method: 'POST',
    url: '/some/path?a=1&b=two',
    payload: 'hello',
    headers: {
      host: 'example.com',
      'content-type': 'text/plain',
      referer: 'http://ref.example/',
      'user-agent': 'probe-agent/1.0',
      'x-request-id': 'rid-42',
      'p-req-get': gets
    }
  })
  const after = BigInt(Date.now()) * 1_000_000n
  t.equal(res.statusCode, 200)
  const r = results(logs, 'p')
  const str = (path: string) => text(one(r, `req get ${path}`))
  t.equal(str('request|path'), '/some/path?a=1&b=two', 'path includes the query')
  t.equal(str('request|url_path'), '/some/path')
  t.equal(str('request|query'), 'a=1&b=two')
  t.equal(str('request|host'), 'example.com')
  t.equal(str('request|scheme'), 'http')
  t.equal(str('request|method'), 'POST')
  t.equal(str('request|referer'), 'http://ref.example/')
  t.equal(str('request|useragent'), 'probe-agent/1.0')
  t.equal(str('request|id'), 'rid-42', 'x-request-id')
  t.equal(str('request|protocol'), 'HTTP/1.1')
  for (const p of gets) t.equal(one(r, `req get ${p}`).status, 0, `${p} is found`)

  const time = int64(one(r, 'req get request|time'))
  // The host's clock is Date.now() plus a monotonic offset: allow a few ms of skew.
  t.ok(time >= before - 5_000_000n && time <= after + 5_000_000n, `request.time ${time} is between ${before} and ${after} (ns)`)
  t.equal(int64(one(r, 'req get request|size')), 5n, 'the body size from content-length')
  t.ok(int64(one(r, 'req get request|total_size')) > 5n, 'total size counts the headers too')
})

test('request.id falls back to Fastify\'s request id without x-request-id', async t => {
  const { app, logs } = await buildApp(t, { configs: [probe('p')] })
  let id = ''
  app.get('/', async (req) => { id = String(req.id); return 'ok' })
  await app.inject({ url: '/', headers: { 'p-req-get': 'request|id' } })
  t.equal(text(one(results(logs, 'p'), 'req get request|id')), id)
})

test('NUL-separated and dotted paths name the same attributes; a trailing NUL is tolerated', async t => {
  const { app, logs } = await buildApp(t, { configs: [probe('p')] })
  app.get('/*', async () => 'ok')
  const gets = ['request|path', 'request.path', 'request|path|', 'request|headers|x-a', 'request.headers.x-a', 'request|headers|x-a|',
    'request.headers.X-A', 'request|url_path', 'request.url_path', 'plugin_name', 'plugin_name|']
  await app.inject({ url: '/x?y=1', headers: { 'x-a': 'va', 'p-req-get': gets } })
  const r = results(logs, 'p')
  for (const p of ['request.path', 'request|path|']) t.equal(text(one(r, `req get ${p}`)), '/x?y=1', p)
  for (const p of ['request.headers.x-a', 'request|headers|x-a|', 'request.headers.X-A', 'request|headers|x-a']) {
    t.equal(text(one(r, `req get ${p}`)), 'va', p)
  }
  t.equal(text(one(r, 'req get request.url_path')), '/x')
  t.equal(text(one(r, 'req get plugin_name|')), 'p')
})

test('request.headers: multi-valued headers are comma-joined; the map has one pair per name', async t => {
  const { app, logs } = await buildApp(t, { configs: [probe('p')] })
  app.get('/', async () => 'ok')
  await app.inject({
    url: '/',
    headers: { 'x-multi': ['a', 'b', 'c'], 'x-one': 'single', 'p-req-get': ['request|headers|x-multi', 'request|headers'] }
  })
  const r = results(logs, 'p')
  t.equal(text(one(r, 'req get request|headers|x-multi')), 'a,b,c')
  const map = pairs(one(r, 'req get request|headers'))
  t.same(map.filter(([k]) => k === 'x-multi'), [['x-multi', 'a,b,c']])
  t.same(map.filter(([k]) => k === 'x-one'), [['x-one', 'single']])
  t.notOk(map.some(([k]) => k.startsWith(':')), 'no pseudo-headers in the map')
  t.ok(map.some(([k]) => k === 'p-req-get'), 'other request headers are there')
})

test('unknown paths are NotFound (1); a path deeper than its attribute too', async t => {
  const { app, logs } = await buildApp(t, { configs: [probe('p')] })
  app.get('/', async () => 'ok')
  const missing = ['nope', 'nope|deeper', 'request|nope', 'request.nope', 'request|headers|absent', 'request|path|extra',
    'request|method|x|y', 'request|headers|x-a|more', 'response|code', 'response.headers', 'source|nope', 'upstream|address', 'request', 'plugin_name|x']
  const res = await app.inject({ url: '/', headers: { 'x-a': '1', 'p-req-get': missing } })
  t.equal(res.statusCode, 200)
  const r = results(logs, 'p')
  for (const p of missing) t.equal(one(r, `req get ${p}`).status, 1, `${p} -> NotFound`)
})

test('bad pointers are InvalidMemoryAccess (6); an empty path is BadArgument (2); plugin_* is read-only', async t => {
  const { app, logs } = await buildApp(t, { configs: [filter('e', wat('prop-edge'))] })
  app.get('/', async () => 'ok')
  const res = await app.inject('/')
  t.equal(res.statusCode, 200, 'bad arguments do not fail the VM')
  t.same(logs.filterMessages('e'), [
    'get-path-oob 6',
    'get-path-wrap 6',
    'get-ret-ptr-oob 6',
    'get-ret-size-oob 6',
    'get-ret-straddle 6',
    'get-empty 2',
    'set-path-oob 6',
    'set-value-oob 6',
    'set-empty 2',
    'set-plugin-name 2'
  ])
  t.equal(app.proxyWasm.stats()[0].failed, false)
})

test('response.code is an int64 in on_response_headers and on_log; response.headers too', async t => {
  const { app, logs } = await buildApp(t, { configs: [probe('p')] })
  app.get('/', async (_req, reply) => { reply.code(201).header('x-route', 'r1'); return 'made' })
  const gets = ['response|code', 'response.code', 'response|headers|x-route', 'response|code_details', 'request|duration']
  const res = await app.inject({ url: '/', headers: { 'p-req-get': 'response|code', 'p-res-get': gets, 'p-log-get': gets } })
  t.equal(res.statusCode, 201)
  const r = results(logs, 'p')
  t.equal(one(r, 'req get response|code').status, 1, 'not known during the request phase')
  for (const phase of ['res', 'log']) {
    t.equal(int64(one(r, `${phase} get response|code`)), 201n, `${phase}: response.code`)
    t.equal(int64(one(r, `${phase} get response.code`)), 201n, `${phase}: dotted`)
    t.equal(text(one(r, `${phase} get response|headers|x-route`)), 'r1')
    t.equal(one(r, `${phase} get response|code_details`).status, 1, `${phase}: no details for a route's own response`)
    t.ok(int64(one(r, `${phase} get request|duration`)) >= 0n, `${phase}: request.duration`)
  }
})

test('response.code_details is the local reply\'s details, not shadowed by response.code', async t => {
  // The probe sees the request; pause-tick answers it with a local reply 429 "pause_deny".
  const { app, logs } = await buildApp(t, { configs: [probe('p'), filter('pause', wat('pause-tick'))] })
  app.get('/', async () => 'route')
  const gets = ['response|code', 'response|code_details', 'response.code_details']
  const res = await app.inject({ url: '/', headers: { 'x-pause': 'deny', 'p-res-get': gets, 'p-log-get': gets } })
  t.equal(res.statusCode, 429)
  const r = results(logs, 'p')
  for (const phase of ['res', 'log']) {
    t.equal(int64(one(r, `${phase} get response|code`)), 429n)
    t.equal(text(one(r, `${phase} get response|code_details`)), 'pause_deny')
    t.equal(text(one(r, `${phase} get response.code_details`)), 'pause_deny')
  }
})

test('plugin_name, plugin_root_id and plugin_vm_id in root and stream contexts', async t => {
  const gets = ['plugin_name', 'plugin_root_id', 'plugin_vm_id']
  const lines = (n: string) => gets.flatMap(g => [`${n}-vm-get ${g}`, `${n}-cfg-get ${g}`, `${n}-tick-get ${g}`]).join('\n')
  const { app, logs } = await buildApp(t, {
    configs: [
      probe('named', { root_id: 'the-root' }, { vm_id: 'the-vm', configuration: lines('named') }),
      probe('bare', { root_id: '' }, { vm_id: '', configuration: lines('bare') })
    ]
  })
  app.get('/', async () => 'ok')
  await app.ready()
  await until(() => logs.filterMessages('named').includes('tick done') && logs.filterMessages('bare').includes('tick done'), 'the first tick')
  await app.inject({ url: '/', headers: { 'named-req-get': gets, 'bare-req-get': gets } })
  const named = results(logs, 'named')
  const bare = results(logs, 'bare')
  for (const phase of ['vm', 'cfg', 'tick', 'req']) {
    t.equal(text(one(named, `${phase} get plugin_name`)), 'named', `${phase}: plugin_name`)
    t.equal(text(one(named, `${phase} get plugin_root_id`)), 'the-root', `${phase}: plugin_root_id`)
    t.equal(text(one(named, `${phase} get plugin_vm_id`)), 'the-vm', `${phase}: plugin_vm_id`)
    // Empty ids are found, with no bytes (pointer 0).
    t.same(one(bare, `${phase} get plugin_root_id`), { status: 0, hex: '', nonNullEmpty: false }, `${phase}: empty root_id`)
    t.same(one(bare, `${phase} get plugin_vm_id`), { status: 0, hex: '', nonNullEmpty: false }, `${phase}: empty vm_id`)
  }
})

test('request, response and connection attributes are NotFound in root contexts, without harm', async t => {
  const paths = ['request|path', 'request.method', 'request|headers', 'request|headers|host', 'request|time', 'response|code', 'source|address', 'destination.port', 'connection|id']
  const config = ['vm', 'cfg', 'tick'].flatMap(ph => paths.map(p => `p-${ph}-get ${p}`)).join('\n')
  const { app, logs } = await buildApp(t, { configs: [probe('p', {}, { configuration: config })] })
  app.get('/', async () => 'ok')
  await app.ready()
  await until(() => logs.filterMessages('p').includes('tick done'), 'the first tick')
  const r = results(logs, 'p')
  for (const ph of ['vm', 'cfg', 'tick']) {
    for (const p of paths) t.equal(one(r, `${ph} get ${p}`).status, 1, `${ph}: ${p}`)
  }
  const res = await app.inject('/')
  t.equal(res.statusCode, 200, 'the filter still works')
  t.equal(app.proxyWasm.stats()[0].failed, false)
})

test('a custom property set in on_request_headers is read back later and by the next filter, for this request only', async t => {
  const { app, logs } = await buildApp(t, { configs: [probe('one'), probe('two')] })
  app.get('/', async () => 'ok')
  await app.inject({
    url: '/',
    headers: {
      'one-req-set': ['my_state=hello', 'ns|key=v1', 'dotted.name=d'],
      'one-res-get': ['my_state', 'ns|key', 'dotted.name'],
      'two-req-get': ['my_state', 'ns|key', 'dotted.name', 'ns'],
      'two-log-get': 'my_state'
    }
  })
  const one1 = results(logs, 'one')
  const two = results(logs, 'two')
  for (const s of ['my_state=hello', 'ns|key=v1', 'dotted.name=d']) t.equal(one(one1, `req set ${s}`).status, 0, `set ${s}`)
  t.equal(text(one(one1, 'res get my_state')), 'hello')
  t.equal(text(one(one1, 'res get ns|key')), 'v1')
  t.equal(text(one(one1, 'res get dotted.name')), 'd')
  t.equal(text(one(two, 'req get my_state')), 'hello', 'the next filter of the chain reads it')
  t.equal(text(one(two, 'req get ns|key')), 'v1')
  t.equal(text(one(two, 'req get dotted.name')), 'd')
  t.equal(one(two, 'req get ns').status, 1, 'a prefix of a stored path is not a property')
  t.equal(text(one(two, 'log get my_state')), 'hello')

  const before = logs.lines.length
  await app.inject({ url: '/', headers: { 'two-req-get': 'my_state' } })
  const later = logs.lines.slice(before).filter(l => l.filter === 'two').map(l => l.msg)
  t.same(later, ['req get my_state -> 1'], 'a new request starts without it')
})

test('setting request properties changes what the route handler sees', async t => {
  const { app, logs } = await buildApp(t, { configs: [probe('p')] })
  app.all('/*', async (req) => ({ method: req.method, url: req.url, query: req.query, headers: req.headers }))
  const res = await app.inject({
    url: '/orig?a=1',
    headers: {
      'x-del': 'gone',
      'p-req-set': ['request.method=PUT', 'request|url_path=/changed', 'request|query=x=9', 'request.headers.x-set=v',
        'request|headers|x-del=', 'request.host=other.example'],
      'p-req-get': ['request|path', 'request|method', 'request|headers|x-set']
    }
  })
  const body = res.json()
  t.equal(body.method, 'PUT')
  t.equal(body.url, '/changed?x=9')
  t.same(body.query, { x: '9' })
  t.equal(body.headers['x-set'], 'v')
  t.equal(body.headers['x-del'], undefined, 'an empty value removes the header')
  t.equal(body.headers.host, 'other.example')
  const r = results(logs, 'p')
  for (const s of ['request.method=PUT', 'request|url_path=/changed', 'request|query=x=9', 'request.headers.x-set=v', 'request|headers|x-del=', 'request.host=other.example']) {
    t.equal(one(r, `req set ${s}`).status, 0, s)
  }
  t.equal(text(one(r, 'req get request|path')), '/changed?x=9', 'reads see the edits')
  t.equal(text(one(r, 'req get request|method')), 'PUT')
  t.equal(text(one(r, 'req get request|headers|x-set')), 'v')
})

test('request.path set whole; invalid values and the wrong phase are BadArgument', async t => {
  const { app, logs } = await buildApp(t, { configs: [probe('p')] })
  app.all('/*', async (req) => ({ method: req.method, url: req.url }))
  const res = await app.inject({
    url: '/orig',
    headers: {
      'p-req-set': ['request|path=/whole?q=1', 'request|method=BAD METHOD', 'request|path=no-slash', 'request|headers|bad name=x',
        'request|method|x=GET', 'response|headers|x-early=1', 'response|code=500', 'source|port=1'],
      'p-res-set': ['request|method=DELETE', 'request|headers|x-late=1', 'response|headers|x-added=yes', 'response.code=418'],
      'p-log-set': ['response|headers|x-too-late=1', 'response|code=500']
    }
  })
  t.equal(res.statusCode, 418, 'response.code set in on_response_headers is what the client gets')
  t.equal(res.headers['x-added'], 'yes')
  t.equal(res.headers['x-too-late'], undefined)
  t.same(res.json(), { method: 'GET', url: '/whole?q=1' })
  const r = results(logs, 'p')
  const status = (k: string) => one(r, k).status
  t.equal(status('req set request|path=/whole?q=1'), 0)
  for (const s of ['request|method=BAD METHOD', 'request|path=no-slash', 'request|headers|bad name=x', 'request|method|x=GET',
    'response|headers|x-early=1', 'response|code=500', 'source|port=1']) t.equal(status(`req set ${s}`), 2, `req: ${s}`)
  t.equal(status('res set request|method=DELETE'), 2, 'request attributes are read-only after the request phase')
  t.equal(status('res set request|headers|x-late=1'), 2)
  t.equal(status('res set response|headers|x-added=yes'), 0)
  t.equal(status('res set response.code=418'), 0)
  t.equal(status('log set response|headers|x-too-late=1'), 2, 'the response has been sent')
  t.equal(status('log set response|code=500'), 2)
})

test('source and destination address and port, over a real connection', async t => {
  const { app, logs } = await buildApp(t, { configs: [probe('p')] })
  app.get('/', async () => 'ok')
  await app.listen({ port: 0, host: '127.0.0.1' })
  const serverPort = (app.server.address() as AddressInfo).port
  const gets = ['source|address', 'source.port', 'source|port', 'destination|address', 'destination.port', 'connection|id', 'connection_id',
    'connection|mtls', 'request|headers|x-multi', 'request|protocol', 'request.host']
  let clientPort = 0
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: serverPort, path: '/', agent: false, headers: { 'x-multi': ['a', 'b'], 'p-req-get': gets } }, resolve)
    req.on('socket', s => s.on('connect', () => { clientPort = s.localPort as number }))
    req.on('error', reject)
    req.end()
  })
  res.resume()
  await new Promise(resolve => res.on('end', resolve))
  t.equal(res.statusCode, 200)
  t.ok(clientPort > 0)
  const r = results(logs, 'p')
  t.equal(text(one(r, 'req get source|address')), `127.0.0.1:${clientPort}`)
  t.equal(int64(one(r, 'req get source.port')), BigInt(clientPort), 'the client socket\'s port, not byte-swapped')
  t.equal(int64(one(r, 'req get source|port')), BigInt(clientPort))
  t.equal(text(one(r, 'req get destination|address')), `127.0.0.1:${serverPort}`)
  t.equal(int64(one(r, 'req get destination.port')), BigInt(serverPort))
  t.ok(int64(one(r, 'req get connection|id')) > 0n)
  t.equal(one(r, 'req get connection_id').hex, one(r, 'req get connection|id').hex, 'connection_id is connection.id')
  t.equal(one(r, 'req get connection|mtls').hex, '00', 'a one-byte false on plain HTTP')
  t.equal(text(one(r, 'req get request|headers|x-multi')), 'a,b', 'repeated header lines are comma-joined')
  t.equal(text(one(r, 'req get request|protocol')), 'HTTP/1.1')
  t.equal(text(one(r, 'req get request.host')), `127.0.0.1:${serverPort}`)
})

async function until (cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (cond()) return
    await new Promise(resolve => setTimeout(resolve, 5))
  }
  throw new Error(`timed out waiting for ${what}`)
}
