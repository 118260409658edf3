import type { RootContext } from './contexts'
import type { PluginInfo } from './plugin-info'
import type { ProxyVm } from './proxy-vm'

/** A configured filter: its VM (possibly shared) and its own root context. */
export class Plugin {
  constructor (readonly info: PluginInfo, readonly vm: ProxyVm, readonly root: RootContext) {}

  get name (): string {
    return this.info.name
  }

  get failed (): boolean {
    return this.vm.wasm.failed
  }
}
