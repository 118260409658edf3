// The server under test, started by bench/run.ts as a child process with an
// IPC channel: it sends { type: 'ready', port } and answers 'cpu' and 'stats'
// requests so the parent can measure this process alone.
import Fastify from 'fastify'
import proxyWasm from '../index'
import { variants } from './variants'

export type ServerMessage =
  | { type: 'ready', port: number }
  | { type: 'cpu', usage: NodeJS.CpuUsage }
  | { type: 'stats', stats: unknown }

export type ParentMessage = { type: 'cpu' } | { type: 'stats' } | { type: 'close' }

async function main () {
  const wanted = new Set(process.argv.slice(2))
  const list = variants().list.filter(v => wanted.has(v.name))
  const app = Fastify({ logger: false })
  const hello = async () => ({ hello: 'world' })

  // A route outside the plugin's scope: what Fastify costs without it.
  for (const v of list.filter(v => v.filter === null)) app.get(`/${v.name}`, hello)

  const filters = list.flatMap(v => v.filter ? [v.filter] : [])
  let stats = (): unknown => []
  await app.register(async (scope) => {
    await scope.register(proxyWasm, { configs: filters })
    stats = () => scope.proxyWasm.stats()
    for (const v of list.filter(v => v.filter !== null)) {
      scope.get(`/${v.name}`, { config: { proxyWasm: v.filter ? [v.filter.name!] : false } }, hello)
    }
  })

  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address()
  const send = (m: ServerMessage) => process.send!(m)
  process.on('message', (m: ParentMessage) => {
    if (m.type === 'cpu') send({ type: 'cpu', usage: process.cpuUsage() })
    else if (m.type === 'stats') send({ type: 'stats', stats: stats() })
    else if (m.type === 'close') app.close().then(() => process.exit(0), () => process.exit(1))
  })
  // Exit with the parent, whatever happens to it.
  process.on('disconnect', () => process.exit(0))
  send({ type: 'ready', port: typeof address === 'object' && address ? address.port : 0 })
}

main().catch(err => {
  console.error(err)
  process.exit(1)
})
