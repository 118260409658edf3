import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import proxyWasm, { type ProxyWasmOptions } from '../../index'

export interface LogLine {
  level: number
  msg: string
  filter?: string
  context?: number
  reqId?: string
  [key: string]: unknown
}

/** A pino destination that keeps every line, parsed. */
export function logCapture () {
  const lines: LogLine[] = []
  const stream = { write: (s: string) => { lines.push(JSON.parse(s)) } }
  return {
    lines,
    stream,
    /** Messages logged by filters (lines with a `filter` field). */
    filterMessages: (filter?: string) => lines.filter(l => l.filter !== undefined && (filter === undefined || l.filter === filter)).map(l => l.msg)
  }
}

/**
 * A Fastify app with the plugin registered and logs captured at `level`.
 * The app is closed by the test's teardown.
 */
export async function buildApp (
  t: { teardown: (fn: () => unknown) => void },
  options: ProxyWasmOptions,
  { level = 'trace', fastify = {} }: { level?: string, fastify?: FastifyServerOptions } = {}
): Promise<{ app: FastifyInstance, logs: ReturnType<typeof logCapture> }> {
  const logs = logCapture()
  const app = Fastify({ ...fastify, logger: { level, stream: logs.stream } })
  t.teardown(() => app.close())
  await app.register(proxyWasm, options)
  return { app, logs }
}

/** A configuration object for one module file. */
export function filter (name: string, filename: string, extra: Record<string, unknown> = {}, vm: Record<string, unknown> = {}) {
  return { name, root_id: name, ...extra, vm_config: { vm_id: name, code: { local: { filename } }, ...vm } }
}
