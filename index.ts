import fp from 'fastify-plugin'
import { proxyWasmPlugin, type ProxyWasmApi, type ProxyWasmOptions } from './lib/fastify/plugin'
import type { RouteFilters } from './lib/fastify/routes'

export type { ProxyWasmApi, ProxyWasmOptions } from './lib/fastify/plugin'
export type { PluginConfig, VmConfig, CodeConfig, ConfigurationValue } from './lib/config/types'
export type { ClusterOption } from './lib/config/clusters'
export type { MetricsOption } from './lib/fastify/metrics'
export type { VmStats } from './lib/context/host'
export type { RouteFilters } from './lib/fastify/routes'
export { errors } from './lib/errors'

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * Filters for this route: a list of filter names (in chain order),
     * `false` for none; absent means every configured filter.
     */
    proxyWasm?: RouteFilters
  }
  interface FastifyInstance {
    proxyWasm: ProxyWasmApi
  }
}

/** The Fastify plugin: `app.register(proxyWasm, { configs: [...] })`. */
export const proxyWasm = fp<ProxyWasmOptions>(proxyWasmPlugin, {
  fastify: '5.x',
  name: 'fastify-proxy-wasm'
})

export type ProxyWasmPlugin = typeof proxyWasm
export default proxyWasm
