// ESM entry: the plugin is compiled to CommonJS in dist/, so pick its
// exports off module.exports rather than relying on Node's export detection.
import cjs from './dist/index.js'

export const proxyWasm = cjs.proxyWasm
export const errors = cjs.errors
export default cjs.proxyWasm
