import type { Plugin } from '../context/plugin'
import type { WasmHost } from '../context/host'
import { errors } from '../errors'

/** What a route may put in `config.proxyWasm`. */
export type RouteFilters = string[] | string | boolean

/**
 * Resolves a route's `config.proxyWasm` to its filter chain: absent or
 * true = every configured filter in order, false = none, names = those
 * filters in the order the route gives.
 */
export class ChainResolver {
  private readonly all: Plugin[]
  private readonly none: Plugin[] = []
  private readonly cache = new Map<string, Plugin[]>()

  constructor (private readonly host: WasmHost) {
    this.all = host.plugins
  }

  resolve (value: unknown, where: string): Plugin[] {
    if (value === undefined || value === null || value === true) return this.all
    if (value === false) return this.none
    const names = typeof value === 'string' ? [value] : value
    if (!Array.isArray(names) || names.some(n => typeof n !== 'string')) {
      throw new errors.RouteConfig(`${where}: config.proxyWasm: expected false, true, a filter name or a list of filter names, got ${JSON.stringify(value)}`)
    }
    const key = names.join('\0')
    let chain = this.cache.get(key)
    if (chain === undefined) {
      chain = names.map(name => {
        const p = this.host.byName.get(name)
        if (p === undefined) {
          const known = this.host.plugins.map(x => JSON.stringify(x.name)).join(', ') || 'none'
          throw new errors.RouteConfig(`${where}: config.proxyWasm: unknown filter ${JSON.stringify(name)}; configured filters: ${known}`)
        }
        return p
      })
      this.cache.set(key, chain)
    }
    return chain
  }
}
