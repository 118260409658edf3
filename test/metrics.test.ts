import { once } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import Fastify, { type FastifyInstance } from 'fastify'
import { test } from 'tap'
import proxyWasm from '../index'
import { buildApp, filter } from './helpers/app'
import { as, wat } from './helpers/fixtures'
import { parsePrometheus, valueOf } from './helpers/prometheus'

/** One met-probe call: `op` 1 define, 2 increment, 3 record, 4 get; answers "<status>[ <slot>]". */
async function probe (app: FastifyInstance, headers: Record<string, string>, url = '/'): Promise<string> {
  const res = await app.inject({ url, headers })
  if (res.statusCode !== 200) throw new Error(`probe answered ${res.statusCode}: ${res.body}`)
  return res.body
}
const define = (app: FastifyInstance, type: number, name: string | undefined, extra: Record<string, string> = {}, url?: string) =>
  probe(app, { 'x-op': '1', 'x-type': String(type), ...(name === undefined ? {} : { 'x-name': name }), ...extra }, url)
const increment = (app: FastifyInstance, id: number, arg: string | number, url?: string) =>
  probe(app, { 'x-op': '2', 'x-id': String(id), 'x-arg': String(arg) }, url)
const record = (app: FastifyInstance, id: number, arg: string | number, url?: string) =>
  probe(app, { 'x-op': '3', 'x-id': String(id), 'x-arg': String(arg) }, url)
const get = (app: FastifyInstance, id: number, extra: Record<string, string> = {}, url?: string) =>
  probe(app, { 'x-op': '4', 'x-id': String(id), ...extra }, url)

async function probeApp (t: Parameters<typeof buildApp>[0], extra: Record<string, unknown> = {}) {
  const built = await buildApp(t, { configs: [filter('probe', wat('met-probe'))], ...extra } as any)
  built.app.get('/*', async () => 'route')
  return built
}

async function scrape (app: FastifyInstance) {
  return parsePrometheus(await app.proxyWasm.metrics())
}

async function until (cond: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    if (await cond()) return
    await new Promise(resolve => setTimeout(resolve, 5))
  }
  throw new Error(`timed out waiting for ${what}`)
}

const U64_MAX = '18446744073709551615'

test('proxy_define_metric: ids carry the type in their low two bits and count per type in steps of 4', async t => {
  const { app } = await probeApp(t)
  t.equal(await define(app, 0, 'a'), '0 4')
  t.equal(await define(app, 0, 'b'), '0 8')
  t.equal(await define(app, 1, 'g'), '0 5')
  t.equal(await define(app, 2, 'h'), '0 6')
  t.equal(await define(app, 1, 'g2'), '0 9')
  t.equal(await define(app, 2, 'h2'), '0 10')
  t.equal(await define(app, 0, 'a'), '0 12', 'the same name again gets a new id')
  t.equal(await increment(app, 4, 3), '0')
  t.equal(await get(app, 12), '0 3', 'for the same metric')
  t.equal(await increment(app, 12, 2), '0')
  t.equal(await get(app, 4), '0 5')
})

test('proxy_define_metric: a bad type or name is BadArgument, a bad pointer InvalidMemoryAccess; nothing is defined then', async t => {
  const { app } = await probeApp(t)
  t.equal(await define(app, 3, 'x'), '2 7', 'type 3')
  t.equal(await define(app, 4294967295, 'x'), '2 7', 'type 2^32-1')
  t.equal(await define(app, 0, undefined), '2 7', 'empty name')
  t.equal(await define(app, 0, 'x', { 'x-bad': '3' }), '2 7', 'name bytes c3 28 are not UTF-8')
  t.equal(await define(app, 0, 'x', { 'x-bad': '1' }), '6 7', 'name pointer out of memory')
  t.equal(await define(app, 0, 'x', { 'x-bad': '2' }), '6 7', 'id pointer out of memory')
  t.equal(await define(app, 3, 'x', { 'x-bad': '1' }), '2 7', 'the type is checked first')
  t.equal(await define(app, 0, 'first'), '0 4', 'no id was used by the failures')
  const text = await app.proxyWasm.metrics()
  t.notMatch(text, /proxy_wasm_filter_x/, 'nothing defined by the failed calls')
  t.match(text, /^proxy_wasm_filter_first_total\{filter="probe"\} 0$/m)
})

test('proxy_increment_metric, proxy_record_metric, proxy_get_metric: Envoy\'s statuses', async t => {
  const { app } = await probeApp(t)
  t.equal(await define(app, 0, 'c'), '0 4')
  t.equal(await define(app, 1, 'g'), '0 5')
  t.equal(await define(app, 2, 'h'), '0 6')

  // counters: positive increments add; record adds too
  t.equal(await increment(app, 4, 0), '2', 'counter + 0')
  t.equal(await increment(app, 4, -1), '2', 'counter - 1')
  t.equal(await increment(app, 4, 5), '0')
  t.equal(await record(app, 4, 3), '0', 'record on a counter adds')
  t.equal(await get(app, 4), '0 8')
  t.equal(await increment(app, 104, 1), '1', 'unknown counter id')
  t.equal(await increment(app, 104, 0), '1', 'unknown counter id, even with a bad offset')
  t.equal(await record(app, 104, 1), '1')
  t.equal(await get(app, 104), '1 7')

  // gauges: increments may be negative; record sets; values are u64 on the wire
  t.equal(await increment(app, 5, 10), '0')
  t.equal(await increment(app, 5, -15), '0')
  t.equal(await get(app, 5), '0 18446744073709551611', 'the u64 of -5')
  t.equal(await increment(app, 5, 0), '0')
  t.equal(await record(app, 5, 42), '0')
  t.equal(await get(app, 5), '0 42')
  t.equal(await increment(app, 105, 1), '1')
  t.equal(await record(app, 105, 1), '1')
  t.equal(await get(app, 105), '1 7')

  // histograms: only record
  t.equal(await increment(app, 6, 1), '2')
  t.equal(await get(app, 6), '2 7')
  t.equal(await record(app, 6, 3), '0')
  t.equal(await record(app, 6, 7), '0')
  t.equal(await increment(app, 106, 1), '2', 'histogram type bits: BadArgument before the lookup')
  t.equal(await record(app, 106, 1), '1')
  t.equal(await get(app, 106), '2 7')

  // type bits 3: no such metric type
  t.equal(await increment(app, 7, 1), '2')
  t.equal(await record(app, 7, 1), '1')
  t.equal(await get(app, 7), '2 7')

  // the value pointer
  t.equal(await get(app, 4, { 'x-bad': '2' }), '6 7')
  t.equal(await get(app, 104, { 'x-bad': '2' }), '1 7', 'NotFound comes before the pointer check (Envoy)')

  // u64 arithmetic: i64 -1 is 2^64-1
  t.equal(await record(app, 4, -1), '0', 'record 2^64-1 on a counter')
  t.equal(await get(app, 4), '0 7', 'wraps modulo 2^64')
  t.equal(await record(app, 5, U64_MAX), '0')
  t.equal(await get(app, 5), `0 ${U64_MAX}`)

  const families = await scrape(app)
  t.equal(valueOf(families, 'proxy_wasm_filter_c_total', { filter: 'probe' }), 7)
  t.equal(valueOf(families, 'proxy_wasm_filter_g', { filter: 'probe' }), -1, 'a gauge set to 2^64-1 is exported as -1')
  t.equal(valueOf(families, 'proxy_wasm_filter_h_count', { filter: 'probe' }), 2)
  t.equal(valueOf(families, 'proxy_wasm_filter_h_sum', { filter: 'probe' }), 10)
  t.equal(valueOf(families, 'proxy_wasm_filter_h_bucket', { filter: 'probe', le: '1' }), 0)
  t.equal(valueOf(families, 'proxy_wasm_filter_h_bucket', { filter: 'probe', le: '5' }), 1)
  t.equal(valueOf(families, 'proxy_wasm_filter_h_bucket', { filter: 'probe', le: '10' }), 2)
})

test('the metrics route: a WAT filter\'s counter, gauge and histogram after requests, in a valid scrape', async t => {
  const { app } = await buildApp(t, { configs: [filter('count', wat('met-count'))], metrics: { route: '/metrics' } } as any)
  app.get('/*', async () => 'route')
  for (const url of ['/a', '/abcdefghijk', '/x?q=1', '/']) {
    const res = await app.inject({ url })
    t.equal(res.body, 'route')
  }
  // in_flight goes down in proxy_on_log, when each response has ended
  await until(async () => (await app.proxyWasm.metrics()).includes('proxy_wasm_filter_in_flight{filter="count"} 0'), 'in_flight back to 0')
  const res = await app.inject({ url: '/metrics' })
  t.equal(res.statusCode, 200)
  t.equal(res.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8')
  const families = parsePrometheus(res.body)

  const requests = families.get('proxy_wasm_filter_requests_total')
  t.equal(requests?.type, 'counter')
  t.equal(requests?.help, 'Filter counter "requests"')
  t.same(requests?.samples, [{ name: 'proxy_wasm_filter_requests_total', labels: { filter: 'count' }, value: 4 }])
  t.equal(families.get('proxy_wasm_filter_in_flight')?.type, 'gauge', '"in.flight" becomes in_flight')
  t.equal(valueOf(families, 'proxy_wasm_filter_in_flight', { filter: 'count' }), 0)

  const hist = families.get('proxy_wasm_filter_path_length')
  t.equal(hist?.type, 'histogram')
  const buckets = hist?.samples.filter(s => s.name.endsWith('_bucket')).map(s => [s.labels.le, s.value])
  // :path lengths 2, 12, 6 and 1
  t.same(buckets, [
    ['0.5', 0], ['1', 1], ['5', 2], ['10', 3], ['25', 4], ['50', 4], ['100', 4], ['250', 4], ['500', 4], ['1000', 4],
    ['2500', 4], ['5000', 4], ['10000', 4], ['30000', 4], ['60000', 4], ['300000', 4], ['600000', 4], ['1800000', 4],
    ['3600000', 4], ['+Inf', 4]
  ])
  t.equal(valueOf(families, 'proxy_wasm_filter_path_length_sum', { filter: 'count' }), 21)
  t.equal(valueOf(families, 'proxy_wasm_filter_path_length_count', { filter: 'count' }), 4)

  t.equal(valueOf(families, 'proxy_wasm_requests_total', { filter: 'count' }), 4, 'the metrics route runs no filter')
  for (const f of families.values()) t.ok(f.help !== undefined && f.type !== 'untyped', `${f.name} has HELP and TYPE`)
  t.equal(res.body, await app.proxyWasm.metrics(), 'the route serves what the decorator returns')
})

test('two plugins sharing a VM: one id space, a series each', async t => {
  const shared = { vm_id: 'shared' }
  const { app } = await buildApp(t, { configs: [filter('a', wat('met-probe'), {}, shared), filter('b', wat('met-probe'), {}, shared)] })
  app.get('/a', { config: { proxyWasm: ['a'] } }, async () => 'a')
  app.get('/b', { config: { proxyWasm: ['b'] } }, async () => 'b')
  t.same(app.proxyWasm.stats().map(s => s.plugins), [['a', 'b']], 'one VM')
  t.equal(await define(app, 0, 'hits', {}, '/a'), '0 4')
  t.equal(await define(app, 0, 'hits', {}, '/b'), '0 8', 'ids are per VM')
  t.equal(await increment(app, 4, 2, '/a'), '0')
  t.equal(await increment(app, 8, 5, '/b'), '0')
  t.equal(await get(app, 4, {}, '/a'), '0 2')
  t.equal(await get(app, 8, {}, '/b'), '0 5')
  t.equal(await get(app, 4, {}, '/b'), '0 5', 'an id acts on the series of the filter whose context runs')
  t.equal(await define(app, 1, 'only.b', {}, '/b'), '0 5')

  const families = await scrape(app)
  t.same(families.get('proxy_wasm_filter_hits_total')?.samples.map(s => [s.labels.filter, s.value]), [['a', 2], ['b', 5]])
  t.same(families.get('proxy_wasm_filter_only_b')?.samples.map(s => s.labels.filter), ['b'], 'a series only for the filter that defined it')
  t.equal(valueOf(families, 'proxy_wasm_local_replies_total', { filter: 'a' }), 3, 'every probe call is a local reply')
  t.equal(valueOf(families, 'proxy_wasm_local_replies_total', { filter: 'b' }), 5)
  t.equal(valueOf(families, 'proxy_wasm_vm_memory_bytes', { vm_id: 'shared', filters: 'a,b' }), 131072)
})

test('names: sanitized, counters end in _total, clashes get a suffix and a warning; labels are escaped', async t => {
  const name = 'we"ird\\name\nx'
  const { app, logs } = await buildApp(t, { configs: [filter(name, wat('met-probe'))] })
  app.get('/*', async () => 'route')
  // Header values reach the filter as latin1 bytes: send the UTF-8 bytes of é.
  t.equal(await define(app, 0, `requests.by-method/${Buffer.from('é').toString('latin1')}`), '0 4')
  t.equal(await define(app, 0, 'requests_by_method__'), '0 8')
  t.equal(await define(app, 0, 'done_total'), '0 12')
  t.equal(await define(app, 1, 'h_count'), '0 5')
  t.equal(await define(app, 2, 'h'), '0 6')
  t.equal(await define(app, 1, '0starts with a digit'), '0 9')
  t.equal(await increment(app, 8, 1), '0')
  const families = await scrape(app)
  const label = { filter: name }
  t.equal(valueOf(families, 'proxy_wasm_filter_requests_by_method___total', label), 0)
  t.equal(valueOf(families, 'proxy_wasm_filter_requests_by_method___2_total', label), 1, 'the second name that sanitizes alike')
  t.equal(valueOf(families, 'proxy_wasm_filter_done_total', label), 0, 'no second _total')
  t.equal(valueOf(families, 'proxy_wasm_filter_h_count', label), 0, 'the gauge h_count')
  t.equal(valueOf(families, 'proxy_wasm_filter_h_2_count', label), 0, 'the histogram h, renamed: its _count is taken')
  t.equal(valueOf(families, 'proxy_wasm_filter_0starts_with_a_digit', label), 0)
  t.equal(families.get('proxy_wasm_filter_requests_by_method___total')?.help, 'Filter counter "requests.by-method/é"')
  t.ok(logs.lines.some(l => l.msg === 'metric "requests_by_method__" is exported as proxy_wasm_filter_requests_by_method___2_total: the name it would have is taken'))
  t.ok(logs.lines.some(l => l.msg === 'metric "h" is exported as proxy_wasm_filter_h_2: the name it would have is taken'))
  t.match(await app.proxyWasm.metrics(), 'proxy_wasm_requests_total{filter="we\\"ird\\\\name\\nx"} 7')
})

test('host figures: requests, local replies and a trap counted once', async t => {
  const { app } = await buildApp(t, { configs: [filter('trappy', wat('fail-trap')), filter('hdr', wat('headers-basic'))] })
  app.get('/*', async () => 'route')
  t.equal((await app.inject({ url: '/' })).statusCode, 200)
  t.equal((await app.inject({ url: '/', headers: { 'x-trap': '1' } })).statusCode, 503)
  t.equal((await app.inject({ url: '/' })).statusCode, 503)
  const families = await scrape(app)
  t.equal(valueOf(families, 'proxy_wasm_requests_total', { filter: 'trappy' }), 3)
  t.equal(valueOf(families, 'proxy_wasm_requests_total', { filter: 'hdr' }), 1, 'the later filter saw only the first request')
  t.equal(valueOf(families, 'proxy_wasm_local_replies_total', { filter: 'trappy' }), 2, 'the fail-closed 503s')
  t.equal(valueOf(families, 'proxy_wasm_local_replies_total', { filter: 'hdr' }), 0)
  t.equal(valueOf(families, 'proxy_wasm_vm_failures_total', { filter: 'trappy' }), 1)
  t.equal(valueOf(families, 'proxy_wasm_vm_failures_total', { filter: 'hdr' }), 0)
  t.equal(valueOf(families, 'proxy_wasm_http_calls_total', { filter: 'trappy' }), 0)
  t.equal(valueOf(families, 'proxy_wasm_grpc_calls_total', { filter: 'trappy' }), 0)
  t.equal(valueOf(families, 'proxy_wasm_grpc_call_failures_total', { filter: 'hdr' }), 0)
  for (const vmId of ['trappy', 'hdr']) {
    t.ok((valueOf(families, 'proxy_wasm_vm_memory_bytes', { vm_id: vmId, filters: vmId }) ?? 0) > 0, `memory of ${vmId}`)
  }
})

test('host figures: a trap of a filter that fails open is counted, and it sends no reply', async t => {
  const { app } = await buildApp(t, { configs: [filter('trappy', wat('fail-trap'), { fail_open: true })] })
  app.get('/*', async () => 'route')
  t.equal((await app.inject({ url: '/', headers: { 'x-trap': '1' } })).body, 'route')
  t.equal((await app.inject({ url: '/' })).body, 'route')
  const families = await scrape(app)
  t.equal(valueOf(families, 'proxy_wasm_vm_failures_total', { filter: 'trappy' }), 1)
  t.equal(valueOf(families, 'proxy_wasm_local_replies_total', { filter: 'trappy' }), 0)
  t.equal(valueOf(families, 'proxy_wasm_requests_total', { filter: 'trappy' }), 1, 'a bypassed filter does not see the request')
})

test('host figures: HTTP calls and their failures, with a real upstream and a refused port', async t => {
  const server = createServer((_req, res) => res.end('up'))
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => { server.closeAllConnections(); server.close() })
  const refused = createServer()
  refused.listen(0, '127.0.0.1')
  await once(refused, 'listening')
  const refusedPort = (refused.address() as AddressInfo).port
  refused.close()
  await once(refused, 'close')
  const { app } = await buildApp(t, {
    configs: [filter('echo', wat('call-echo'))],
    clusters: { up: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, down: `http://127.0.0.1:${refusedPort}` }
  } as any)
  app.get('/*', async () => 'route')
  t.equal((await app.inject({ url: '/', headers: { 'x-cluster': 'up' } })).statusCode, 200)
  t.equal((await app.inject({ url: '/', headers: { 'x-cluster': 'up' } })).statusCode, 200)
  t.equal((await app.inject({ url: '/', headers: { 'x-cluster': 'down' } })).statusCode, 200, 'the filter answers after the failure')
  t.equal((await app.inject({ url: '/', headers: { 'x-cluster': 'nope' } })).statusCode, 500, 'an unknown cluster is refused at once')
  const families = await scrape(app)
  t.equal(valueOf(families, 'proxy_wasm_http_calls_total', { filter: 'echo' }), 3, 'the refused call is no call')
  t.equal(valueOf(families, 'proxy_wasm_http_call_failures_total', { filter: 'echo' }), 1)
  t.equal(valueOf(families, 'proxy_wasm_requests_total', { filter: 'echo' }), 4)
})

test('several apps in one process keep their metrics apart', async t => {
  const one = await probeApp(t)
  const two = await probeApp(t)
  t.equal(await define(one.app, 0, 'mine'), '0 4')
  t.equal(await increment(one.app, 4, 3), '0')
  t.equal(valueOf(await scrape(one.app), 'proxy_wasm_filter_mine_total', { filter: 'probe' }), 3)
  const other = await scrape(two.app)
  t.notOk(other.has('proxy_wasm_filter_mine_total'))
  t.equal(valueOf(other, 'proxy_wasm_requests_total', { filter: 'probe' }), 0)
  t.equal(await define(two.app, 0, 'mine'), '0 4', 'ids are per VM, and each app has its own VMs')
})

test('the text appends to another registry\'s (as prom-client\'s would) and still parses', async t => {
  const { app } = await probeApp(t)
  t.equal(await define(app, 2, 'latency'), '0 6')
  t.equal(await record(app, 6, 12), '0')
  // What prom-client's register.metrics() returns: families separated by blank lines, a final newline.
  const promClient = [
    '# HELP process_cpu_user_seconds_total Total user CPU time spent in seconds.',
    '# TYPE process_cpu_user_seconds_total counter',
    'process_cpu_user_seconds_total 0.05',
    '',
    '# HELP http_request_duration_seconds Duration of HTTP requests in seconds',
    '# TYPE http_request_duration_seconds histogram',
    'http_request_duration_seconds_bucket{le="0.1",route="/"} 1',
    'http_request_duration_seconds_bucket{le="+Inf",route="/"} 2',
    'http_request_duration_seconds_sum{route="/"} 0.4',
    'http_request_duration_seconds_count{route="/"} 2',
    ''
  ].join('\n')
  const combined = promClient + await app.proxyWasm.metrics()
  const families = parsePrometheus(combined)
  t.ok(families.has('process_cpu_user_seconds_total'))
  t.ok(families.has('http_request_duration_seconds'))
  t.equal(valueOf(families, 'proxy_wasm_filter_latency_sum', { filter: 'probe' }), 12)
  t.ok([...families.keys()].every(n => /^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(n)))
})

test('the test parser rejects what Prometheus rejects', async t => {
  t.throws(() => parsePrometheus('# TYPE a counter\na 1\n# TYPE a counter\na 2\n'), /appears twice|TYPE/)
  t.throws(() => parsePrometheus('a 1\nb 1\na{x="y"} 2\n'), /appears twice/)
  t.throws(() => parsePrometheus('a{x="\\q"} 1\n'), /bad escape/)
  t.throws(() => parsePrometheus('a{x="y"} 1\na{x="y"} 2\n'), /repeated/)
  t.throws(() => parsePrometheus('1a 1\n'), /bad metric name/)
  t.throws(() => parsePrometheus('a 1'), /newline/)
  t.throws(() => parsePrometheus('# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n'), /cumulative/)
  t.throws(() => parsePrometheus('# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n'), /\+Inf/)
  t.throws(() => parsePrometheus('# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 1\n'), /_count/)
})

test('an AssemblyScript filter\'s Counter, Gauge and Histogram, read back and scraped', async t => {
  const { app } = await buildApp(t, { configs: [filter('counter', as('counter'))], metrics: { route: '/metrics' } } as any)
  app.get('/*', async () => 'route')
  app.post('/*', async () => 'posted')
  const counts: string[] = []
  for (const [method, url] of [['GET', '/'], ['GET', '/one'], ['POST', '/two/three'], ['GET', '/four?five=6']] as const) {
    const res = await app.inject({ method, url })
    counts.push(String(res.headers['x-method-count']))
  }
  t.same(counts, ['1', '2', '1', '3'], 'proxy_get_metric reads the per-method counters back')
  await until(async () => (await app.proxyWasm.metrics()).includes('proxy_wasm_filter_in_flight{filter="counter"} 0'), 'in_flight back to 0')
  const families = parsePrometheus((await app.inject({ url: '/metrics' })).body)
  t.equal(valueOf(families, 'proxy_wasm_filter_requests_GET_total', { filter: 'counter' }), 3)
  t.equal(valueOf(families, 'proxy_wasm_filter_requests_POST_total', { filter: 'counter' }), 1)
  t.equal(valueOf(families, 'proxy_wasm_filter_path_length_count', { filter: 'counter' }), 4)
  t.equal(valueOf(families, 'proxy_wasm_filter_path_length_sum', { filter: 'counter' }), 1 + 4 + 10 + 12)
  t.equal(valueOf(families, 'proxy_wasm_filter_path_length_bucket', { filter: 'counter', le: '5' }), 2)
  t.equal(valueOf(families, 'proxy_wasm_requests_total', { filter: 'counter' }), 4)
})

test('options.metrics is checked', async t => {
  for (const [metrics, message] of [
    ['yes', /options\.metrics: expected an object/],
    [{ route: 'metrics' }, /options\.metrics\.route: expected a path starting with '\/'/],
    [{ route: 5 }, /options\.metrics\.route/]
  ] as const) {
    const app = Fastify()
    t.teardown(() => app.close())
    await t.rejects(async () => { await app.register(proxyWasm, { configs: [filter('probe', wat('met-probe'))], metrics } as any) }, { code: 'FST_PROXY_WASM_INVALID_CONFIG', message })
  }
  const { app } = await probeApp(t, { metrics: {} })
  t.equal((await app.inject({ url: '/metrics', headers: { 'x-op': '4', 'x-id': '4' } })).body, '1 7', 'no route without options.metrics.route')
})
