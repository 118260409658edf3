import { test } from 'tap'
import type { AddressInfo } from 'node:net'
import { request } from 'undici'
import { buildApp, filter, type LogLine, type logCapture } from './helpers/app'
import { wat } from './helpers/fixtures'

// The hdr-probe fixture runs the script in its configuration; a line
// "req local CODE DETAILS BODY HEADERS-HEX [GRPC]" calls
// proxy_send_local_response and logs "<line> -> <status>".
type Logs = ReturnType<typeof logCapture>
const probe = (name: string, script: string[]) => filter(name, wat('hdr-probe'), { configuration: script.join('\n') })

function statusOf (logs: Logs, name: string, cmd: string): number {
  const line = logs.filterMessages(name).find(m => m.startsWith(`${cmd} -> `))
  if (line === undefined) throw new Error(`the probe did not run ${JSON.stringify(cmd)}; logged: ${logs.filterMessages(name).join(' | ')}`)
  return Number(line.slice(cmd.length + 4).split(' ')[0])
}

/** The ABI's pairs encoding, as hex. */
function hex (pairs: [string, string][]): string {
  const head = Buffer.alloc(4 + pairs.length * 8)
  head.writeUInt32LE(pairs.length, 0)
  const data = pairs.map(([k, v], i) => {
    head.writeUInt32LE(k.length, 4 + i * 8)
    head.writeUInt32LE(v.length, 8 + i * 8)
    return Buffer.from(`${k}\0${v}\0`, 'latin1')
  })
  return Buffer.concat([head, ...data]).toString('hex')
}

const localReplies = (logs: Logs) => logs.lines.filter(l => l.msg === 'proxy-wasm: local reply')
/** What the probe logged per context: its callback names and commands, in order. */
function byContext (lines: LogLine[], name: string): string[][] {
  const out = new Map<number, string[]>()
  for (const l of lines) {
    if (l.filter !== name || l.context === undefined || l.context === 1) continue
    out.set(l.context, [...(out.get(l.context) ?? []), l.msg])
  }
  return [...out.values()]
}
const callbacks = (msgs: string[]) => msgs.map(m => m.split(' ')[0]).filter((m, i, all) => all.indexOf(m) === i)

test('status, body, repeated headers and details; the route does not run', async t => {
  const headers = hex([['set-cookie', 'a=1'], ['Set-Cookie', 'b=2'], ['x-multi', '1'], ['x-multi', '2'], ['X-Upper', 'Yes']])
  const { app, logs } = await buildApp(t, { configs: [probe('p', [`req local 403 denied_by_probe forbidden%21 ${headers}`])] })
  let handled = 0
  app.get('/', async () => { handled++; return 'route' })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  const res = await request(`http://127.0.0.1:${port}/`)
  t.equal(res.statusCode, 403)
  t.equal(await res.body.text(), 'forbidden!')
  t.same(res.headers['set-cookie'], ['a=1', 'b=2'])
  t.same(res.headers['x-multi'], ['1', '2'], 'repeated headers go out as separate lines')
  t.equal(res.headers['x-upper'], 'Yes')
  t.equal(res.headers['content-type'], 'text/plain; charset=utf-8', 'a body without content-type is text')
  t.equal(res.headers['content-length'], '10')
  t.equal(handled, 0)
  t.equal(statusOf(logs, 'p', `req local 403 denied_by_probe forbidden%21 ${headers}`), 0)
  const [line] = localReplies(logs)
  t.match(line, { level: 30, filter: 'p', statusCode: 403, details: 'denied_by_probe' })
  // The connection is still good for the next request.
  const again = await request(`http://127.0.0.1:${port}/`)
  t.equal(again.statusCode, 403)
  await again.body.text()
})

test('a content-type from the filter is kept; an empty reply has no text content-type; details may be empty', async t => {
  const { app, logs } = await buildApp(t, {
    configs: [probe('json', [`req local 401 "" {} ${hex([['content-type', 'application/json']])}`]), probe('empty', ['req local 418 "" "" ""'])]
  })
  app.get('/json', { config: { proxyWasm: ['json'] } }, async () => 'route')
  app.get('/empty', { config: { proxyWasm: ['empty'] } }, async () => 'route')
  const json = await app.inject('/json')
  t.equal(json.statusCode, 401)
  t.equal(json.headers['content-type'], 'application/json')
  t.equal(json.body, '{}')
  const empty = await app.inject('/empty')
  t.equal(empty.statusCode, 418)
  t.equal(empty.body, '')
  t.not(empty.headers['content-type'], 'text/plain; charset=utf-8')
  t.same(localReplies(logs).map(l => l.details), ['', ''])
})

test('statuses under 400 are sent as they are', async t => {
  const { app } = await buildApp(t, {
    configs: [
      probe('s204', ['req local 204 no_content "" ""']),
      probe('s302', [`req local 302 moved "" ${hex([['location', '/elsewhere']])}`]),
      probe('s200', ['req local 200 fine ok ""'])
    ]
  })
  let handled = 0
  for (const s of ['204', '302', '200']) app.get(`/${s}`, { config: { proxyWasm: [`s${s}`] } }, async () => { handled++; return 'route' })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  const r204 = await request(`http://127.0.0.1:${port}/204`)
  t.equal(r204.statusCode, 204)
  t.equal(await r204.body.text(), '')
  const r302 = await request(`http://127.0.0.1:${port}/302`)
  t.equal(r302.statusCode, 302)
  t.equal(r302.headers.location, '/elsewhere')
  t.equal(await r302.body.text(), '')
  t.not(r302.headers['content-type'], 'application/octet-stream', 'an empty body needs no content-type')
  const r200 = await request(`http://127.0.0.1:${port}/200`)
  t.equal(r200.statusCode, 200)
  t.equal(await r200.body.text(), 'ok')
  t.equal(handled, 0)
})

test('a status outside 100..599 or malformed headers are BadArgument; the request goes on', async t => {
  const bad = [
    'req local 99 d b ""',
    'req local 600 d b ""',
    'req local 0 d b ""',
    'req local 4294967295 d b ""',
    'req local 403 d b 01000000',
    `req local 403 d b ${hex([['x-a', 'b']])}00`,
    `req local 403 d b ${hex([[':status', '200']])}`,
    `req local 403 d b ${hex([['x-a', 'b\r\nx-evil: 1']])}`,
    `req local 403 d b ${hex([['x a', 'b']])}`,
    `req local 403 d b ${hex([['', 'b']])}`
  ]
  const { app, logs } = await buildApp(t, { configs: [probe('p', bad)] })
  let handled = 0
  app.get('/', async () => { handled++; return 'route' })
  const res = await app.inject('/')
  t.equal(res.statusCode, 200)
  t.equal(res.body, 'route')
  t.equal(res.headers['x-evil'], undefined)
  t.equal(handled, 1)
  for (const line of bad) t.equal(statusOf(logs, 'p', line), 2, line)
  t.equal(localReplies(logs).length, 0)
})

test('gRPC status 0..16 sets grpc-status; other values do not', async t => {
  const { app } = await buildApp(t, {
    configs: [probe('g16', ['req local 200 grpc msg "" 16']), probe('g0', ['req local 200 grpc msg "" 0']), probe('g17', ['req local 200 grpc msg "" 17']), probe('gnone', ['req local 200 grpc msg "" 4294967295'])]
  })
  for (const n of ['g16', 'g0', 'g17', 'gnone']) app.get(`/${n}`, { config: { proxyWasm: [n] } }, async () => 'route')
  t.equal((await app.inject('/g16')).headers['grpc-status'], '16')
  t.equal((await app.inject('/g0')).headers['grpc-status'], '0')
  t.equal((await app.inject('/g17')).headers['grpc-status'], undefined)
  const none = await app.inject('/gnone')
  t.equal(none.headers['grpc-status'], undefined)
  t.equal(none.body, 'msg')
})

test('in a chain, later filters are skipped; the replying filter sees the reply on the way out and still gets on_log, on_done, on_delete', async t => {
  const { app, logs } = await buildApp(t, {
    configs: [
      probe('a', ['req local 401 stop_here nope ""', 'res get 2 :status', 'res add 2 x-seen-by-a yes']),
      probe('b', ['req add 0 x-b 1'])
    ]
  })
  let handled = 0
  app.get('/', async () => { handled++; return 'route' })
  const res = await app.inject('/')
  t.equal(res.statusCode, 401)
  t.equal(res.body, 'nope')
  t.equal(res.headers['x-seen-by-a'], 'yes', 'the reply went through on_response_headers of the filter that sent it')
  t.equal(handled, 0)
  t.same(logs.filterMessages('b').filter(m => !m.startsWith('done')), [], 'the second filter saw nothing of the request')
  const [a] = byContext(logs.lines, 'a')
  t.same(callbacks(a), ['req', 'res', 'log', 'done', 'delete'])
  t.ok(a.includes(`res get 2 :status -> 0 ${Buffer.from('401').toString('hex')}`))
})

test('a reply from the second filter goes back through both filters', async t => {
  const { app, logs } = await buildApp(t, {
    configs: [probe('a', ['res add 2 x-a yes']), probe('b', ['req local 429 slow_down "" ""', 'res add 2 x-b yes'])]
  })
  app.get('/', async () => 'route')
  const res = await app.inject('/')
  t.equal(res.statusCode, 429)
  t.equal(res.headers['x-a'], 'yes')
  t.equal(res.headers['x-b'], 'yes')
  t.same(callbacks(byContext(logs.lines, 'a')[0]), ['req', 'res', 'log', 'done', 'delete'])
  t.same(callbacks(byContext(logs.lines, 'b')[0]), ['req', 'res', 'log', 'done', 'delete'])
})

test('a reply from on_response_headers replaces the response', async t => {
  const { app, logs } = await buildApp(t, {
    configs: [probe('p', [`res local 502 upstream_bad replaced ${hex([['x-local', '1']])}`, 'res add 2 x-after 1'])]
  })
  let handled = 0
  app.get('/', async (_req, reply) => { handled++; return reply.header('x-from-route', 'r').send({ route: true }) })
  const res = await app.inject('/')
  t.equal(handled, 1)
  t.equal(res.statusCode, 502)
  t.equal(res.body, 'replaced')
  t.equal(res.headers['x-local'], '1')
  t.equal(res.headers['x-from-route'], undefined, 'nothing of the route response is left')
  t.equal(res.headers['content-type'], 'text/plain; charset=utf-8')
  t.equal(localReplies(logs)[0]?.details, 'upstream_bad')
  t.same(callbacks(byContext(logs.lines, 'p')[0]), ['req', 'res', 'log', 'done', 'delete'])
})

test('a reply from on_log comes too late: Ok, ignored', async t => {
  const { app, logs } = await buildApp(t, { configs: [probe('p', ['log local 500 late too_late ""'])] })
  app.get('/', async () => 'route')
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  const res = await request(`http://127.0.0.1:${port}/`)
  t.equal(res.statusCode, 200)
  t.equal(await res.body.text(), 'route')
  // on_log runs once the response is out; wait for it.
  for (let i = 0; i < 200 && !logs.filterMessages('p').includes('delete'); i++) await new Promise(resolve => setTimeout(resolve, 5))
  t.equal(statusOf(logs, 'p', 'log local 500 late too_late ""'), 0)
  t.equal(localReplies(logs).length, 0)
  t.ok(logs.lines.some(l => l.level === 40 && l.filter === 'p' && /ignored/.test(l.msg)), 'a warning says it was ignored')
  const again = await request(`http://127.0.0.1:${port}/`)
  t.equal(again.statusCode, 200)
  await again.body.text()
})

test('only the first local reply of a callback counts', async t => {
  const { app, logs } = await buildApp(t, { configs: [probe('p', ['req local 401 first one ""', 'req local 402 second two ""'])] })
  app.get('/', async () => 'route')
  const res = await app.inject('/')
  t.equal(statusOf(logs, 'p', 'req local 401 first one ""'), 0)
  t.equal(statusOf(logs, 'p', 'req local 402 second two ""'), 0)
  t.equal(localReplies(logs).length, 1)
  t.equal(res.statusCode, localReplies(logs)[0].statusCode)
})

test('a local reply to a POST leaves its body unread; the connection serves the next request', async t => {
  const { app } = await buildApp(t, { configs: [probe('p', ['req local 413 too_big too%20big ""'])] })
  let handled = 0
  app.post('/', async () => { handled++; return 'route' })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
  for (let i = 0; i < 2; i++) {
    const res = await request(`${base}/`, { method: 'POST', body: 'x'.repeat(100_000), headers: { 'content-type': 'text/plain' } })
    t.equal(res.statusCode, 413)
    t.equal(await res.body.text(), 'too big')
  }
  t.equal(handled, 0)
})
