import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import type { PluginConfig } from '../index'

/** The repository root, found from here whether this runs as bench/*.ts or compiled into .build/. */
export const ROOT = (() => {
  let dir = __dirname
  while (!existsSync(join(dir, 'fixtures', 'wasm')) && dirname(dir) !== dir) dir = dirname(dir)
  return dir
})()

export interface Variant {
  /** Route path without the slash, and the name in the results. */
  name: string
  /** What the route runs, for the table. */
  description: string
  /** Filter config, or `false` for a route that opts out with `config.proxyWasm: false`, or `null` outside the plugin's scope. */
  filter: PluginConfig | false | null
  /** A response header the route must send, proving the filter ran. */
  expectHeader?: [string, string]
}

function wasm (name: string): string {
  return join(ROOT, 'fixtures', 'wasm', `${name}.wasm`)
}

function filter (name: string, file: string, configuration?: string, rootId = name): PluginConfig {
  return { name, root_id: rootId, configuration, vm_config: { vm_id: name, code: { local: { filename: file } } } }
}

/** Every variant whose module exists, and notes about the ones left out. */
export function variants (): { list: Variant[], notes: string[] } {
  const notes: string[] = []
  const list: Variant[] = [
    { name: 'plain', description: 'no plugin in scope', filter: null },
    { name: 'bare', description: 'config.proxyWasm: false', filter: false },
    { name: 'noop', description: 'WAT, no hostcalls', filter: filter('noop', wasm('bench-noop')) },
    { name: 'header', description: 'WAT, adds 1 resp. header', filter: filter('header', wasm('bench-add-header')), expectHeader: ['x-bench', '1'] }
  ]
  for (const v of list) {
    if (v.filter && !existsSync(v.filter.vm_config!.code.local.filename!)) {
      throw new Error(`${v.filter.vm_config!.code.local.filename} is missing: run node fixtures/build.mjs --only wat`)
    }
  }
  const as = wasm('as-headers')
  if (existsSync(as)) {
    list.push({
      name: 'as',
      description: 'AS SDK, adds 1 req. + 1 resp. header',
      // The SDK filter registers its root context as "headers".
      filter: filter('as', as, 'add_response_header=x-bench-as: 1', 'headers'),
      expectHeader: ['x-bench-as', '1']
    })
  } else {
    notes.push('skipped variant "as": fixtures/wasm/as-headers.wasm not found (node fixtures/build.mjs --only as)')
  }
  return { list, notes }
}
