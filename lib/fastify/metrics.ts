import type { FastifyInstance } from 'fastify'
import type { MetricsRegistry } from '../context/metrics'
import { errors } from '../errors'

/** The Prometheus text format's content type (what prom-client answers too). */
export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'

export interface MetricsOption {
  /** Serve the metrics at this path (GET), e.g. '/metrics'. No filter runs for it. */
  route?: string
}

/** Checks `options.metrics`; returns the route to register, if any. */
export function metricsRoute (value: unknown): string | undefined {
  if (value === undefined) return undefined
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new errors.InvalidConfig(`options.metrics: expected an object such as { route: '/metrics' }, got ${JSON.stringify(value)}`)
  }
  const route = (value as MetricsOption).route
  if (route === undefined) return undefined
  if (typeof route !== 'string' || !route.startsWith('/')) {
    throw new errors.InvalidConfig(`options.metrics.route: expected a path starting with '/', got ${JSON.stringify(route)}`)
  }
  return route
}

/** GET `route` answers the registry's text. */
export function registerMetricsRoute (app: FastifyInstance, route: string, registry: MetricsRegistry): void {
  app.get(route, { config: { proxyWasm: false } }, async (_request, reply) => {
    reply.type(METRICS_CONTENT_TYPE)
    return registry.text()
  })
}
