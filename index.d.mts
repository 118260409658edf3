// Types of the ESM entry (index.mjs). Importing ./dist/index.js also brings in
// its `declare module 'fastify'` augmentation (route config, app.proxyWasm).
import { proxyWasm } from './dist/index.js'

export * from './dist/index.js'
export default proxyWasm
