import { test } from 'tap'
import Fastify from 'fastify'
import proxyWasm from '../index'
import { wat } from './helpers/fixtures'

test('a WAT filter edits request and response headers', async t => {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(proxyWasm, { configs: [{ name: 'hdr', vm_config: { code: { local: { filename: wat('headers-basic') } } } }] })
  app.get('/a', async (req) => ({ seen: req.headers['x-wasm'] }))
  const r = await app.inject('/a')
  t.equal(r.statusCode, 200)
  t.same(r.json(), { seen: 'request' })
  t.equal(r.headers['x-wasm'], 'response')
})
