/** What a root context needs to know about its plugin. */
export interface PluginInfo {
  readonly name: string
  readonly rootId: string
  readonly vmId: string
  readonly configuration: Buffer
  readonly failOpen: boolean
  /** StopIteration from a header callback holds the headers but still delivers the body (Envoy's allow_on_headers_stop_iteration). */
  readonly allowStopIteration: boolean
  /** Where it was configured (file or configs[i]), for messages. */
  readonly source: string
}
