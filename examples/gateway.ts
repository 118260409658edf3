// A gateway: Fastify + @fastify/reply-from in front of a bundled upstream,
// with four AssemblyScript Proxy-Wasm filters configured in YAML
// (examples/filters/):
//   example       answers GET /wasm/hello itself, marks every response
//   http-auth     asks the `auth` cluster about each /api request (proxy_http_call)
//   json-rewrite  adds a field to JSON request bodies on their way upstream
//   redact        masks secrets in response bodies as they stream back
// The upstream and the auth service run in this process on free ports.
//
//   npm run example                  (PORT=8080 npm run example)
import Fastify, { type FastifyInstance } from 'fastify'
import replyFrom from '@fastify/reply-from'
import http from 'node:http'
import { once } from 'node:events'
import { join } from 'node:path'
import proxyWasm from '../index'

const filters = (name: string) => join(__dirname, 'filters', `${name}.yaml`)

/** The upstream: a small JSON API with a secret in it. */
export function upstream (): http.Server {
  return http.createServer((req, res) => {
    let body = ''
    req.setEncoding('utf8')
    req.on('data', c => { body += c })
    req.on('end', () => {
      res.setHeader('content-type', 'application/json')
      if (req.url?.startsWith('/api/echo')) {
        res.end(JSON.stringify({ method: req.method, received: body === '' ? null : JSON.parse(body), user: req.headers['x-auth-user'] ?? null }))
      } else if (req.url?.startsWith('/api/account')) {
        res.end(JSON.stringify({ owner: req.headers['x-auth-user'] ?? null, card: '4111111111111111', password: 's3cr3t' }))
      } else if (req.url?.startsWith('/public/')) {
        res.setHeader('content-type', 'text/plain')
        res.end('public page; the admin password is s3cr3t\n')
      } else {
        res.statusCode = 404
        res.end(JSON.stringify({ error: 'not found upstream' }))
      }
    })
  })
}

/** The auth service the http-auth filter calls: `authorization: Bearer let-me-in` is user demo. */
export function authService (): http.Server {
  return http.createServer((req, res) => {
    if (req.headers.authorization === 'Bearer let-me-in') {
      res.setHeader('x-user', 'demo')
      res.end('ok')
    } else {
      res.statusCode = 401
      res.end('unknown token\n')
    }
  })
}

export async function listen (server: http.Server): Promise<string> {
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`
}

export async function buildGateway (upstreamUrl: string, authUrl: string, logLevel = 'info'): Promise<FastifyInstance> {
  const app = Fastify({ logger: { level: logLevel } })
  await app.register(proxyWasm, {
    configs: [filters('example'), filters('http-auth'), filters('json-rewrite'), filters('redact')],
    clusters: { auth: { url: authUrl, timeout: 2000 } }
  })
  await app.register(replyFrom, { base: upstreamUrl })
  // Bodies pass through as streams (filters see them chunk by chunk).
  app.addContentTypeParser('*', (_req, payload, done) => done(null, payload))
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', (_req, payload, done) => done(null, payload))
  // Public pages skip authentication; every filter applies to the API.
  app.get('/public/*', { config: { proxyWasm: ['example', 'redact'] } }, (req, reply) => { reply.from(req.url) })
  app.all('/api/*', (req, reply) => { reply.from(req.url) })
  return app
}

async function main () {
  const up = upstream()
  const auth = authService()
  const gateway = await buildGateway(await listen(up), await listen(auth), process.env.LOG_LEVEL ?? 'info')
  const port = Number(process.env.PORT ?? 3000)
  const host = process.env.HOST ?? '127.0.0.1'
  await gateway.listen({ port, host })
  const base = `http://${host}:${(gateway.server.address() as { port: number }).port}`
  console.log(`
fastify-proxy-wasm example gateway on ${base}, four filters in front of a bundled upstream. Try:

  curl -i ${base}/wasm/hello                                    # answered by the example filter itself
  curl -i ${base}/public/page                                   # proxied; the redact filter masks the password
  curl -i ${base}/api/account                                   # 403: the http-auth filter asked the auth service
  curl -i -H 'authorization: Bearer let-me-in' ${base}/api/account
  curl -i -H 'authorization: Bearer let-me-in' -H 'content-type: application/json' \\
       -d '{"hello":"world"}' ${base}/api/echo                   # json-rewrite adds a field upstream

Press Ctrl-C to stop.
`)
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      gateway.close().then(() => { up.close(); auth.close(); process.exit(0) }, () => process.exit(1))
    })
  }
}

if (require.main === module) {
  main().catch(err => {
    console.error(err)
    process.exit(1)
  })
}
