// The AssemblyScript SDK (@solo-io/proxy-runtime 0.1.8) `headers` filter, end to end.
import { test } from 'tap'
import Fastify from 'fastify'
import { request } from 'undici'
import proxyWasm, { type ProxyWasmOptions } from '../index'
import { buildApp, filter, logCapture } from './helpers/app'
import { as } from './helpers/fixtures'

const configuration = [
  'add_response_header=x-hello: world',
  'add_response_header=x-filter: headers',
  'remove_request_header=x-secret'
].join('\n')

const headers = (extra: Record<string, unknown> = {}) => filter('headers', as('headers'), { configuration, ...extra })

async function echoApp (t: Parameters<typeof buildApp>[0]) {
  const { app, logs } = await buildApp(t, { configs: [headers()] }, { level: 'info' })
  app.get('/echo', async (req) => ({ url: req.url, headers: req.headers }))
  return { app, logs }
}

test('through app.inject: response header added, request header removed, :path passed on', async t => {
  const { app } = await echoApp(t)
  const res = await app.inject({ url: '/echo?q=1&r=2', headers: { 'x-secret': 'hunter2', 'x-keep': 'kept' } })
  t.equal(res.statusCode, 200)
  t.equal(res.headers['x-hello'], 'world')
  t.equal(res.headers['x-filter'], 'headers')
  const seen = res.json()
  t.equal(seen.url, '/echo?q=1&r=2')
  t.equal(seen.headers['x-request-path'], '/echo?q=1&r=2', 'the handler sees the :path the filter read')
  t.equal(seen.headers['x-secret'], undefined, 'the configured request header is gone')
  t.equal(seen.headers['x-keep'], 'kept')
})

test('through a real server: the same edits reach the handler and the client', async t => {
  const { app } = await echoApp(t)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as { port: number }
  const res = await request(`http://127.0.0.1:${port}/echo?x=%20y`, { headers: { 'x-secret': 'hunter2', 'x-keep': 'kept' } })
  t.equal(res.statusCode, 200)
  t.equal(res.headers['x-hello'], 'world')
  t.equal(res.headers['x-filter'], 'headers')
  const seen = await res.body.json() as { headers: Record<string, string> }
  t.equal(seen.headers['x-request-path'], '/echo?x=%20y')
  t.equal(seen.headers['x-secret'], undefined)
  t.equal(seen.headers['x-keep'], 'kept')
  t.equal(app.proxyWasm.stats()[0].streamContexts, 0)
})

test('requests without the removed header, and routes Fastify answers itself (404)', async t => {
  const { app } = await echoApp(t)
  const ok = await app.inject({ url: '/echo' })
  t.equal(ok.json().headers['x-request-path'], '/echo')
  const missing = await app.inject({ url: '/nowhere' })
  t.equal(missing.statusCode, 404)
  t.equal(missing.headers['x-hello'], 'world', 'the 404 response went through the filter')
})

type CodedError = Error & { code?: string }

async function startError (t: Parameters<typeof buildApp>[0], options: ProxyWasmOptions) {
  const logs = logCapture()
  const app = Fastify({ logger: { level: 'info', stream: logs.stream } })
  t.teardown(() => app.close())
  app.register(proxyWasm, options)
  const err = await app.ready().then(() => undefined, (e: CodedError) => e)
  if (err === undefined) throw new Error('expected app.ready() to fail')
  return err
}

test('a configuration the filter rejects fails app.ready() with FST_PROXY_WASM_START', async t => {
  const err = await startError(t, { configs: [headers({ configuration: 'add_response_header=no colon here' })] })
  t.equal(err.code, 'FST_PROXY_WASM_START')
  t.match(err.message, /proxy_on_configure returned false/)
  t.match(err.message, 'headers: bad configuration line: add_response_header=no colon here')
})

test('a root_id the module did not register: the SDK aborts and app.ready() fails with FST_PROXY_WASM_START', async t => {
  const err = await startError(t, { configs: [headers({ root_id: 'no-such-root' })] })
  t.equal(err.code, 'FST_PROXY_WASM_START')
  t.match(err.message, /configs\[0\]: root_id: filter "headers"/)
  t.match(err.message, /proxy_on_context_create/)
  t.match(err.message, 'Missing root context factory for root id: no-such-root')
})
