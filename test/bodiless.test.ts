import { test } from 'tap'
import { request } from 'undici'
import { Readable } from 'node:stream'
import { buildApp, filter } from './helpers/app'
import { wat } from './helpers/fixtures'

const probe = (script: string[]) => filter('probe', wat('hdr-probe'), { configuration: script.join('\n') })

// 204 and 304 responses carry no body (RFC 9110): whatever a filter does,
// the client must get a well-formed message.
test('a filter that turns a response into 204 or 304 drops its body', async t => {
  for (const status of ['204', '304']) {
    const { app } = await buildApp(t, { configs: [probe([`res replace 2 :status ${status}`])] }, { level: 'warn' })
    app.get('/string', async () => 'some body')
    app.get('/stream', async (_req, reply) => reply.type('text/plain').send(Readable.from(['a', 'b'])))
    await app.listen({ port: 0, host: '127.0.0.1' })
    const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`
    for (const path of ['/string', '/stream']) {
      const res = await request(base + path)
      t.equal(res.statusCode, Number(status), `${status} ${path}`)
      t.equal(await res.body.text(), '', `${status} ${path}: no body`)
      t.equal(res.headers['content-length'] === undefined || res.headers['content-length'] === '0', true, `${status} ${path}: no length for a body that is not there`)
    }
  }
})

test('a local reply with status 304 and a body sends no body', async t => {
  const { app } = await buildApp(t, { configs: [probe(['req local 304 not_modified ignored ""'])] }, { level: 'warn' })
  app.get('/', async () => 'route')
  await app.listen({ port: 0, host: '127.0.0.1' })
  const res = await request(`http://127.0.0.1:${(app.server.address() as { port: number }).port}/`)
  t.equal(res.statusCode, 304)
  t.equal(await res.body.text(), '')
})
