// The example app (examples/app.ts) and its AssemblyScript filter (fixtures/as/example).
import { test } from 'tap'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { request } from 'undici'
import { buildExampleApp } from '../examples/app'

test('the filter answers GET /wasm/hello and marks every response', async t => {
  const app = await buildExampleApp()
  t.teardown(() => app.close())
  const hello = await app.inject({ url: '/wasm/hello' })
  t.equal(hello.statusCode, 200)
  t.equal(hello.body, 'Hello from WebAssembly!\n')
  t.equal(hello.headers['content-type'], 'text/plain; charset=utf-8')
  t.equal(hello.headers['x-powered-by-wasm'], 'fastify-proxy-wasm')
  const route = await app.inject({ url: '/' })
  t.same(route.json(), { hello: 'from a Fastify route' })
  t.equal(route.headers['x-powered-by-wasm'], 'fastify-proxy-wasm')
  for (const [method, url] of [['POST', '/wasm/hello'], ['GET', '/wasm/hello/more'], ['GET', '/nowhere']] as const) {
    const res = await app.inject({ method, url })
    t.equal(res.statusCode, 404, `${method} ${url} is not the filter's`)
    t.equal(res.headers['x-powered-by-wasm'], 'fastify-proxy-wasm')
  }
})

test('`node --import ./examples/register-ts.mjs examples/app.ts` starts, prints curl commands and serves them', async t => {
  const root = join(__dirname, '..')
  const child = spawn(process.execPath, ['--import', './examples/register-ts.mjs', 'examples/app.ts'], {
    cwd: root,
    env: { ...process.env, PORT: '0', LOG_LEVEL: 'warn', NODE_OPTIONS: '' },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  const exited = new Promise<number | null>(resolve => child.on('exit', code => resolve(code)))
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  let out = ''
  let err = ''
  child.stderr.on('data', d => { err += d })
  const base = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', d => {
      out += d
      const m = /curl -i (http:\/\/127\.0\.0\.1:\d+)\/wasm\/hello/.exec(out)
      if (m !== null) resolve(m[1])
    })
    exited.then(code => reject(new Error(`the example exited (${code}): ${err}`)))
  })
  t.match(out, `curl -i ${base}/ `)
  const res = await request(`${base}/wasm/hello`)
  t.equal(res.statusCode, 200)
  t.equal(await res.body.text(), 'Hello from WebAssembly!\n')
  child.kill('SIGTERM')
  t.equal(await exited, 0, 'stops cleanly on SIGTERM')
  t.equal(err, '', 'nothing on stderr')
})
