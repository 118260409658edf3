import { test } from 'tap'
import { request } from 'undici'
import { authService, buildGateway, listen, upstream } from '../examples/gateway'

test('the example gateway does what its banner says', async t => {
  const up = upstream()
  const auth = authService()
  const gateway = await buildGateway(await listen(up), await listen(auth), 'warn')
  t.teardown(async () => {
    await gateway.close()
    up.close()
    auth.close()
  })
  await gateway.listen({ port: 0, host: '127.0.0.1' })
  const base = `http://127.0.0.1:${(gateway.server.address() as { port: number }).port}`
  const bearer = { authorization: 'Bearer let-me-in' }

  const hello = await request(`${base}/wasm/hello`)
  t.equal(hello.statusCode, 200)
  t.equal((await hello.body.text()).trim(), 'Hello from WebAssembly!')
  t.equal(hello.headers['x-powered-by-wasm'], 'fastify-proxy-wasm')

  const page = await request(`${base}/public/page`)
  t.equal(await page.body.text(), 'public page; the admin password is ******\n')

  const denied = await request(`${base}/api/account`)
  t.equal(denied.statusCode, 403)
  await denied.body.dump()

  const account = await request(`${base}/api/account`, { headers: bearer })
  t.same(await account.body.json(), { owner: 'demo', card: '****************', password: '******' })

  const echo = await request(`${base}/api/echo`, { method: 'POST', headers: { ...bearer, 'content-type': 'application/json' }, body: '{"hello":"world"}' })
  t.same(await echo.body.json(), { method: 'POST', received: { via: 'fastify-proxy-wasm', hello: 'world' }, user: 'demo' })
})
