// The published package, as a user gets it: `npm pack`, install the tarball
// into an empty project, then load it from ESM and CommonJS and type-check
// consumer code against its declarations.
import t from 'tap'
import { execFile } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { wat } from './helpers/fixtures'

const run = promisify(execFile)
const ROOT = join(__dirname, '..')
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc')

// Packing builds dist/ with tsc and installing may hit the network.
t.setTimeout(300_000)

/** The environment without tap's loaders and coverage, so children run as a user's would. */
function cleanEnv (): NodeJS.ProcessEnv {
  const env = { ...process.env }
  for (const key of Object.keys(env)) {
    if (key === 'NODE_OPTIONS' || key === 'NODE_V8_COVERAGE' || key.startsWith('TAP') || key.startsWith('_TAP') ||
        key === 'npm_config_local_prefix' || key.startsWith('npm_package_') || key.startsWith('npm_lifecycle_')) {
      delete env[key]
    }
  }
  return env
}

async function sh (file: string, args: string[], cwd: string) {
  try {
    return await run(file, args, { cwd, env: cleanEnv(), timeout: 180_000, maxBuffer: 64 * 1024 * 1024 })
  } catch (err: any) {
    // Show what the child said, not just its exit code.
    err.message += `\nstdout:\n${err.stdout ?? ''}\nstderr:\n${err.stderr ?? ''}`
    throw err
  }
}

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'

const ESM_SCRIPT = `
import { createRequire } from 'node:module'
import Fastify from 'fastify'
import proxyWasm, { proxyWasm as named, errors } from 'fastify-proxy-wasm'

const require = createRequire(import.meta.url)
const app = Fastify()
await app.register(proxyWasm, { configs: [{ name: 'hdr', vm_config: { code: { local: { filename: 'headers-basic.wasm' } } } }] })
app.get('/on', { config: { proxyWasm: ['hdr'] } }, async (req) => ({ seen: req.headers['x-wasm'] ?? null }))
app.get('/off', { config: { proxyWasm: false } }, async (req) => ({ seen: req.headers['x-wasm'] ?? null }))
const on = await app.inject('/on')
const off = await app.inject('/off')
console.log(JSON.stringify({
  defaultIsNamed: proxyWasm === named,
  sameAsRequire: require('fastify-proxy-wasm').proxyWasm === named,
  errorCode: new errors.VmFailed('x').code,
  filters: app.proxyWasm.filters,
  vms: app.proxyWasm.stats().length,
  on: { status: on.statusCode, header: on.headers['x-wasm'] ?? null, body: on.json() },
  off: { status: off.statusCode, header: off.headers['x-wasm'] ?? null, body: off.json() }
}))
await app.close()
`

const CJS_SCRIPT = `
'use strict'
const Fastify = require('fastify')
const pkg = require('fastify-proxy-wasm')

async function probe (plugin) {
  const app = Fastify()
  await app.register(plugin, { configs: [{ name: 'hdr', vm_config: { code: { local: { filename: 'headers-basic.wasm' } } } }] })
  app.get('/on', { config: { proxyWasm: ['hdr'] } }, async (req) => ({ seen: req.headers['x-wasm'] ?? null }))
  const res = await app.inject('/on')
  await app.close()
  return { status: res.statusCode, header: res.headers['x-wasm'] ?? null, body: res.json() }
}

async function main () {
  console.log(JSON.stringify({
    defaultIsNamed: pkg.default === pkg.proxyWasm,
    errorCode: new pkg.errors.InvalidConfig('x').code,
    module: await probe(pkg),
    default: await probe(pkg.default),
    named: await probe(pkg.proxyWasm)
  }))
}
main().catch(err => { console.error(err); process.exit(1) })
`

// Type-checked only, never run.
const CONSUMER_MTS = `
import Fastify from 'fastify'
import proxyWasm, { proxyWasm as named, errors, type ProxyWasmOptions, type VmStats, type PluginConfig } from 'fastify-proxy-wasm'

const filter: PluginConfig = { name: 'hdr', fail_open: true, vm_config: { code: { local: { filename: 'f.wasm' } } } }
const options: ProxyWasmOptions = { configs: ['filters.yaml', filter, { config: filter }], baseDir: '.' }
const app = Fastify()
await app.register(proxyWasm, options)
await app.register(named, { configs: [filter] })
app.get('/a', { config: { proxyWasm: ['hdr'] } }, async () => 'a')
app.get('/b', { config: { proxyWasm: false } }, async () => 'b')
const stats: VmStats[] = app.proxyWasm.stats()
const filters: readonly string[] = app.proxyWasm.filters
const failure: Error = new errors.VmFailed('x')
// @ts-expect-error configs is a list
await app.register(proxyWasm, { configs: 42 })
export { stats, filters, failure }
`

const CONSUMER_CTS = `
import Fastify from 'fastify'
import proxyWasm from 'fastify-proxy-wasm'
import pkg = require('fastify-proxy-wasm')

const app = Fastify()
app.register(proxyWasm, { configs: [{ name: 'hdr', vm_config: { code: { local: { filename: 'f.wasm' } } } }] })
app.register(pkg.proxyWasm, { configs: ['filters.yaml'] })
app.register(pkg.default, { configs: ['filters.yaml'], shutdownGraceMs: 100 })
app.get('/a', { config: { proxyWasm: ['hdr'] } }, async () => 'a')
app.get('/b', { config: { proxyWasm: false } }, async () => 'b')
app.after(() => {
  const names: string[] = app.proxyWasm.stats().map(vm => vm.vmId)
  const code: string = new pkg.errors.RouteConfig('x').code
  return [names, code]
})
// @ts-expect-error shutdownGraceMs is a number
app.register(proxyWasm, { configs: [], shutdownGraceMs: '1s' })
`

t.test('the packed tarball', async t => {
  const packDir = mkdtempSync(join(tmpdir(), 'fpw-pack-'))
  const project = mkdtempSync(join(tmpdir(), 'fpw-consumer-'))
  t.teardown(() => {
    rmSync(packDir, { recursive: true, force: true })
    rmSync(project, { recursive: true, force: true })
  })

  await sh(npm, ['pack', '--pack-destination', packDir], ROOT)
  const tarballs = readdirSync(packDir).filter(f => f.endsWith('.tgz'))
  t.equal(tarballs.length, 1, 'npm pack wrote one tarball')
  const tgz = join(packDir, tarballs[0])

  t.test('ships the build and entries, not sources', async t => {
    const { stdout } = await sh('tar', ['-tzf', tgz], packDir)
    const files = stdout.split('\n').filter(Boolean).map(f => f.replace(/^package\//, ''))
    for (const f of ['dist/index.js', 'dist/index.d.ts', 'index.mjs', 'index.d.mts', 'package.json']) {
      t.ok(files.includes(f), `contains ${f}`)
    }
    t.ok(files.includes('README.md'), 'contains README.md')
    t.ok(files.includes('LICENSE'), 'contains LICENSE')
    t.same(files.filter(f => /^(test|fixtures|bench|examples|lib)\//.test(f)), [], 'no test/, fixtures/, bench/, examples/ or lib/')
    t.same(files.filter(f => f.endsWith('.ts') && !f.endsWith('.d.ts')), [], 'no TypeScript sources')
    t.same(files.filter(f => f.endsWith('.wasm') || f.endsWith('.map')), [], 'no wasm fixtures or source maps')
  })

  t.test('installs into an empty project', async t => {
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }))
    await sh(npm, ['install', '--prefer-offline', '--no-audit', '--no-fund', tgz, 'fastify@5'], project)
    t.ok(existsSync(join(project, 'node_modules', 'fastify-proxy-wasm', 'dist', 'index.js')), 'installed')
    copyFileSync(wat('headers-basic'), join(project, 'headers-basic.wasm'))
  })

  t.test('ESM: default and named imports', async t => {
    writeFileSync(join(project, 'esm.mjs'), ESM_SCRIPT)
    const { stdout } = await sh(process.execPath, ['esm.mjs'], project)
    const r = JSON.parse(stdout.trim().split('\n').pop() as string)
    t.equal(r.defaultIsNamed, true, 'default export is the named proxyWasm')
    t.equal(r.sameAsRequire, true, 'import and require load the same plugin object')
    t.equal(r.errorCode, 'FST_PROXY_WASM_VM_FAILED', 'errors is exported')
    t.same(r.filters, ['hdr'])
    t.equal(r.vms, 1, 'app.proxyWasm.stats() lists the VM')
    t.same(r.on, { status: 200, header: 'response', body: { seen: 'request' } }, 'filter runs on its route')
    t.same(r.off, { status: 200, header: null, body: { seen: null } }, 'config.proxyWasm: false turns it off')
  })

  t.test('CommonJS: require()', async t => {
    writeFileSync(join(project, 'cjs.cjs'), CJS_SCRIPT)
    const { stdout } = await sh(process.execPath, ['cjs.cjs'], project)
    const r = JSON.parse(stdout.trim().split('\n').pop() as string)
    t.equal(r.defaultIsNamed, true, '.default is .proxyWasm')
    t.equal(r.errorCode, 'FST_PROXY_WASM_INVALID_CONFIG', 'errors is exported')
    const expected = { status: 200, header: 'response', body: { seen: 'request' } }
    t.same(r.module, expected, 'the required module registers as is')
    t.same(r.default, expected, '.default registers')
    t.same(r.named, expected, '.proxyWasm registers')
  })

  // One program per consumer: a .cts file would pull in dist/index.d.ts and
  // its augmentation, hiding an ESM entry that lost it.
  for (const [ext, entry] of [['mts', 'index.d.mts'], ['cts', 'dist/index.d.ts']]) {
    t.test(`TypeScript (node16 resolution) type-checks a .${ext} consumer`, async t => {
      mkdirSync(join(project, 'types'), { recursive: true })
      writeFileSync(join(project, 'types', `consumer.${ext}`), ext === 'mts' ? CONSUMER_MTS : CONSUMER_CTS)
      writeFileSync(join(project, `tsconfig.${ext}.json`), JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'node16',
          moduleResolution: 'node16',
          strict: true,
          noEmit: true,
          esModuleInterop: true,
          // Check the package's own declarations too, not only the consumer code.
          skipLibCheck: false,
          // @types/node comes from the repository: nothing else to download.
          typeRoots: [join(ROOT, 'node_modules', '@types')],
          types: ['node']
        },
        files: [`types/consumer.${ext}`]
      }))
      // --listFiles type-checks as usual and also names every file it used.
      const { stdout } = await sh(process.execPath, [TSC, '-p', `tsconfig.${ext}.json`, '--listFiles'], project)
      const lines = stdout.split('\n').map(l => l.trim().replaceAll('\\', '/')).filter(Boolean)
      t.ok(lines.some(f => f.endsWith(`node_modules/fastify-proxy-wasm/${entry}`)), `resolves ${entry}`)
      t.same(lines.filter(l => /error TS\d+/.test(l)), [], 'no type errors')
    })
  }
})
