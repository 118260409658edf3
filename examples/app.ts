// A Fastify app with one Proxy-Wasm filter, built from fixtures/as/example
// (AssemblyScript): it answers GET /wasm/hello itself and adds
// `x-powered-by-wasm: fastify-proxy-wasm` to every response.
//
//   node --import ./examples/register-ts.mjs examples/app.ts
//   PORT=8080 node --import ./examples/register-ts.mjs examples/app.ts
import Fastify, { type FastifyServerOptions } from 'fastify'
import { join } from 'node:path'
import proxyWasm, { type PluginConfig } from '../index'

/** The filter's configuration: the same shape as Envoy's PluginConfig, or an ATS YAML file's `config:`. */
export const exampleFilter: PluginConfig = {
  name: 'example',
  // Must match the name the module gives registerRootContext().
  root_id: 'example',
  // The example filter answers /wasm/hello with this text.
  configuration: 'Hello from WebAssembly!',
  vm_config: {
    vm_id: 'example',
    code: { local: { filename: join(__dirname, '..', 'fixtures', 'wasm', 'as-example.wasm') } }
  }
}

export async function buildExampleApp (options: FastifyServerOptions = {}) {
  const app = Fastify(options)
  await app.register(proxyWasm, { configs: [exampleFilter] })
  app.get('/', async () => ({ hello: 'from a Fastify route' }))
  // No route for /wasm/hello: the filter replies before Fastify would answer 404.
  return app
}

async function main () {
  const app = await buildExampleApp({ logger: { level: process.env.LOG_LEVEL ?? 'info' } })
  const port = Number(process.env.PORT ?? 3000)
  const host = process.env.HOST ?? '127.0.0.1'
  await app.listen({ port, host })
  const base = `http://${host}:${(app.server.address() as { port: number }).port}`
  console.log(`
fastify-proxy-wasm example: filter "${exampleFilter.name}" is running. Try:

  curl -i ${base}/             # a Fastify route; the filter adds x-powered-by-wasm
  curl -i ${base}/wasm/hello   # answered by the filter itself (a local reply)
  curl -i ${base}/nowhere      # Fastify's 404, still marked by the filter

Press Ctrl-C to stop.
`)
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => { app.close().then(() => process.exit(0), () => process.exit(1)) })
  }
}

if (require.main === module) {
  main().catch(err => {
    console.error(err)
    process.exit(1)
  })
}
