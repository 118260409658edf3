import type { FastifyInstance, FastifyPluginAsync } from 'fastify'
import { parseClusters, type ClusterOption } from '../config/clusters'
import { loadConfigs } from '../config/load'
import type { PluginConfig } from '../config/types'
import { WasmHost, type VmStats } from '../context/host'
import type { PinoLike } from '../context/logger'
import { errors } from '../errors'
import { buildHooks, kStream } from './hooks'
import { metricsRoute, registerMetricsRoute, type MetricsOption } from './metrics'
import { ChainResolver } from './routes'

export interface ProxyWasmOptions {
  /**
   * The filters, in chain order: paths of YAML files (the ATS plugin's
   * format or Envoy's PluginConfig shape), or configuration objects.
   */
  configs: Array<string | PluginConfig | { config: PluginConfig }>
  /** Where relative paths in `configs` (and in configuration objects) start. Default: process.cwd(). */
  baseDir?: string
  /**
   * How long `app.close()` lets filters settle requests they hold (and
   * a root context that answered false from on_done call proxy_done)
   * before held requests get a 503. Default 5000 ms.
   */
  shutdownGraceMs?: number
  /**
   * Most body bytes one filter may hold back (StopIterationAndBuffer, or
   * while it holds the headers) before the client gets 413 (request) or
   * 500 (response). Default 1 MiB. A callout's response body over this
   * size fails the call.
   */
  bodyLimit?: number
  /**
   * The upstreams filters may reach with proxy_http_call, by cluster name:
   * a URL (`http://127.0.0.1:9001`) or `{ url, timeout }` where timeout (ms)
   * applies to calls that pass 0. A name not listed answers BadArgument.
   * Request trailers a filter passes are not sent (undici cannot send
   * them); each such call logs a warning.
   */
  clusters?: Record<string, ClusterOption>
  /**
   * Metrics in the Prometheus text format: `{ route: '/metrics' }` serves
   * them (GET, no filter runs); `app.proxyWasm.metrics()` returns them either way.
   */
  metrics?: MetricsOption
}

/** The `app.proxyWasm` decorator. */
export interface ProxyWasmApi {
  /** The configured filter names, in chain order. */
  readonly filters: string[]
  /** Per VM: its filters, failure state, live stream contexts and memory. */
  stats (): VmStats[]
  /** Filter metrics and host figures in the Prometheus text format 0.0.4, to serve or to append to another registry's. */
  metrics (): Promise<string>
}

export const proxyWasmPlugin: FastifyPluginAsync<ProxyWasmOptions> = async function (app: FastifyInstance, opts: ProxyWasmOptions) {
  if (opts === null || typeof opts !== 'object') throw new errors.InvalidConfig('options: expected an object with a configs list')
  const baseDir = opts.baseDir ?? process.cwd()
  const grace = opts.shutdownGraceMs ?? 5000
  if (typeof grace !== 'number' || !Number.isFinite(grace) || grace < 0) {
    throw new errors.InvalidConfig(`options.shutdownGraceMs: expected a number of milliseconds >= 0, got ${JSON.stringify(grace)}`)
  }
  const bodyLimit = opts.bodyLimit ?? 1024 * 1024
  if (typeof bodyLimit !== 'number' || !Number.isInteger(bodyLimit) || bodyLimit < 0) {
    throw new errors.InvalidConfig(`options.bodyLimit: expected a number of bytes >= 0, got ${JSON.stringify(bodyLimit)}`)
  }
  const clusters = parseClusters(opts.clusters)
  const metricsPath = metricsRoute(opts.metrics)
  const specs = await loadConfigs(opts.configs, baseDir)
  const host = await WasmHost.start(specs, { logger: app.log as unknown as PinoLike, shutdownGraceMs: grace, bodyLimit, clusters })
  // Before the server waits for requests in flight: a request paused on a call would wait forever.
  app.addHook('preClose', async () => host.drain())
  app.addHook('onClose', async () => host.close())

  const api: ProxyWasmApi = {
    filters: host.plugins.map(p => p.name),
    stats: () => host.stats(),
    metrics: async () => host.metrics.text()
  }
  app.decorate('proxyWasm', api)
  app.decorateRequest(kStream, null)

  const chains = new ChainResolver(host)
  // Check route filter lists as routes are declared, so mistakes fail at startup.
  app.addHook('onRoute', (route) => {
    const config = route.config as Record<string, unknown> | undefined
    chains.resolve(config?.proxyWasm, `route ${String(route.method)} ${route.url}`)
  })
  if (metricsPath !== undefined) registerMetricsRoute(app, metricsPath, host.metrics)
  const hooks = buildHooks(host, chains)
  app.addHook('onRequest', hooks.onRequest)
  app.addHook('preParsing', hooks.preParsing)
  app.addHook('onSend', hooks.onSend)
}
