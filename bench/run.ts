// Overhead of Proxy-Wasm filters on one Fastify route: see bench/README.md.
// Usage: npm run bench [-- --rounds 3 --rate 2000 --rate-seconds 3 --peak-seconds 2 --warmup-seconds 1 --connections 50 --out file]
// (or the same as BENCH_ROUNDS, BENCH_RATE, ... environment variables).
import autocannon from 'autocannon'
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { availableParallelism, cpus } from 'node:os'
import { dirname, extname, join, relative } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type { ParentMessage, ServerMessage } from './server'
import { fmt, fmtSpread, spread, table, type Spread } from './summary'
import { ROOT, variants, type Variant } from './variants'

// autocannon stops on its 1 s sampling tick: durations are whole seconds.
const DEFAULTS = { rounds: 3, rate: 2000, rateSeconds: 3, peakSeconds: 2, warmupSeconds: 1, connections: 50 }
type Options = typeof DEFAULTS & { out: string }

function options (): Options {
  const args = process.argv.slice(2)
  const opts: Options = { ...DEFAULTS, out: join(ROOT, 'bench', 'results', 'latest.json') }
  for (const key of Object.keys(DEFAULTS) as Array<keyof typeof DEFAULTS>) {
    const flag = '--' + key.replace(/[A-Z]/g, c => '-' + c.toLowerCase())
    const env = 'BENCH_' + key.replace(/[A-Z]/g, c => '_' + c).toUpperCase()
    const text = args.includes(flag) ? args[args.indexOf(flag) + 1] : process.env[env]
    if (text === undefined) continue
    const n = Number(text)
    if (!Number.isInteger(n) || n <= 0) throw new Error(`${flag} / ${env}: expected a positive whole number, got ${JSON.stringify(text)}`)
    opts[key] = n
  }
  if (args.includes('--out')) opts.out = args[args.indexOf('--out') + 1]
  else if (process.env.BENCH_OUT) opts.out = process.env.BENCH_OUT
  return opts
}

// Before pinning: afterwards this process sees one CPU.
const CPU_COUNT = availableParallelism()

function canPin (): boolean {
  if (process.platform !== 'linux' || CPU_COUNT < 2) return false
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

/** The server child and its IPC requests (one at a time). */
class Server {
  port = 0
  private constructor (private readonly child: ChildProcess) {}

  static async start (names: string[], pin: boolean): Promise<Server> {
    // Same loader flags (e.g. the TS loader) and the same file kind as this script.
    const file = join(__dirname, 'server' + extname(__filename))
    const argv = [...process.execArgv, file, ...names]
    const child = pin
      ? spawn('taskset', ['-c', '0', process.execPath, ...argv], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
      : spawn(process.execPath, argv, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    const server = new Server(child)
    const ready = await server.next('ready', 60_000)
    server.port = ready.port
    return server
  }

  private next<T extends ServerMessage['type']> (type: T, timeoutMs = 10_000): Promise<Extract<ServerMessage, { type: T }>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => done(new Error(`server: no '${type}' message within ${timeoutMs} ms`)), timeoutMs)
      const onMessage = (m: ServerMessage) => { if (m.type === type) done(null, m as Extract<ServerMessage, { type: T }>) }
      const onExit = (code: number | null) => done(new Error(`server exited (code ${code}) before sending '${type}'`))
      const done = (err: Error | null, m?: Extract<ServerMessage, { type: T }>) => {
        clearTimeout(timer)
        this.child.off('message', onMessage)
        this.child.off('exit', onExit)
        if (err) reject(err)
        else resolve(m!)
      }
      this.child.on('message', onMessage)
      this.child.on('exit', onExit)
    })
  }

  private async ask<T extends ParentMessage['type'] & ServerMessage['type']> (type: T) {
    const reply = this.next(type)
    this.child.send({ type } satisfies ParentMessage)
    return reply
  }

  /** CPU time (user + system) of the server process so far, in µs. */
  async cpu (): Promise<number> {
    const { usage } = await this.ask('cpu')
    return usage.user + usage.system
  }

  async stats (): Promise<unknown> {
    return (await this.ask('stats')).stats
  }

  async close (): Promise<void> {
    if (this.child.exitCode !== null) return
    const exited = new Promise(resolve => this.child.once('exit', resolve))
    this.child.send({ type: 'close' } satisfies ParentMessage)
    await Promise.race([exited, sleep(5000).then(() => this.child.kill())])
  }

  kill () {
    if (this.child.exitCode === null) this.child.kill()
  }
}

interface Sample {
  /** Completed 2xx responses per second. */
  reqPerSec: number
  /** Server CPU time per completed request, µs. */
  cpuPerReq: number
  latencyP50: number
  latencyP99: number
  requests: number
  failures: number
}

async function measure (server: Server, v: Variant, load: { connections: number, seconds: number, rate?: number }): Promise<Sample> {
  const url = `http://127.0.0.1:${server.port}/${v.name}`
  const before = await server.cpu()
  const r = await autocannon({ url, connections: load.connections, pipelining: 1, duration: load.seconds, overallRate: load.rate })
  const after = await server.cpu()
  const ok = r['2xx']
  return {
    reqPerSec: ok / r.duration,
    cpuPerReq: ok > 0 ? (after - before) / ok : NaN,
    latencyP50: r.latency.p50,
    latencyP99: r.latency.p99,
    requests: ok,
    failures: r.non2xx + r.errors + r.timeouts
  }
}

/** Each route answers, and its filter visibly ran. */
async function check (server: Server, list: Variant[]) {
  for (const v of list) {
    const res = await fetch(`http://127.0.0.1:${server.port}/${v.name}`)
    await res.text()
    if (res.status !== 200) throw new Error(`/${v.name} answered ${res.status}`)
    const [name, value] = v.expectHeader ?? ['x-bench', null]
    if (res.headers.get(name) !== value) throw new Error(`/${v.name}: expected ${name}: ${value}, got ${res.headers.get(name)}`)
  }
}

function rotate<T> (list: T[], by: number): T[] {
  const k = by % list.length
  return [...list.slice(k), ...list.slice(0, k)]
}

async function main () {
  const opts = options()
  const { list, notes } = variants()
  const pin = canPin()
  if (pin) execFileSync('taskset', ['-a', '-p', '-c', '1', String(process.pid)], { stdio: 'ignore' })
  else notes.push('not pinned to CPUs (needs Linux, taskset and 2+ CPUs): server and load generator share CPUs')

  const log = (s: string) => process.stderr.write(s + '\n')
  const server = await Server.start(list.map(v => v.name), pin)
  const samples = new Map(list.map(v => [v.name, { rate: [] as Sample[], peak: [] as Sample[] }]))
  try {
    await check(server, list)
    log(`warm-up: ${opts.warmupSeconds} s per variant`)
    for (const v of list) await measure(server, v, { connections: opts.connections, seconds: opts.warmupSeconds })

    for (let round = 0; round < opts.rounds; round++) {
      // Rotate the order so no variant always runs first or last.
      const order = rotate(list, round)
      for (const v of order) {
        await sleep(200)
        const s = await measure(server, v, { connections: 10, seconds: opts.rateSeconds, rate: opts.rate })
        samples.get(v.name)!.rate.push(s)
        log(`round ${round + 1}/${opts.rounds} ${v.name.padEnd(6)} @${opts.rate}/s: ${fmt(s.cpuPerReq, 1)} µs CPU/req, ${fmt(s.reqPerSec)} req/s`)
      }
      for (const v of order) {
        await sleep(200)
        const s = await measure(server, v, { connections: opts.connections, seconds: opts.peakSeconds })
        samples.get(v.name)!.peak.push(s)
        log(`round ${round + 1}/${opts.rounds} ${v.name.padEnd(6)} peak: ${fmt(s.reqPerSec)} req/s, ${fmt(s.cpuPerReq, 1)} µs CPU/req`)
      }
    }
    const vmStats = await server.stats()
    await server.close()
    report(opts, list, samples, notes, pin, vmStats)
  } finally {
    server.kill()
  }
}

function report (opts: Options, list: Variant[], samples: Map<string, { rate: Sample[], peak: Sample[] }>, notes: string[], pinned: boolean, vmStats: unknown) {
  const summary = list.map(v => {
    const { rate, peak } = samples.get(v.name)!
    return {
      name: v.name,
      description: v.description,
      peak: { reqPerSec: spread(peak.map(s => s.reqPerSec)), cpuPerReq: spread(peak.map(s => s.cpuPerReq)), latencyP99: spread(peak.map(s => s.latencyP99)) },
      rate: { reqPerSec: spread(rate.map(s => s.reqPerSec)), cpuPerReq: spread(rate.map(s => s.cpuPerReq)), latencyP50: spread(rate.map(s => s.latencyP50)), latencyP99: spread(rate.map(s => s.latencyP99)) },
      failures: [...rate, ...peak].reduce((n, s) => n + s.failures, 0),
      samples: { rate, peak }
    }
  })
  const base = summary.find(s => s.name === 'bare')!
  const ratio = (a: Spread, b: Spread) => (a.median / b.median).toFixed(2)
  const rows = summary.map(s => [
    s.name,
    s.description,
    fmtSpread(s.peak.reqPerSec),
    ratio(s.peak.reqPerSec, base.peak.reqPerSec),
    fmtSpread(s.rate.cpuPerReq, 1),
    ratio(s.rate.cpuPerReq, base.rate.cpuPerReq),
    (s.rate.cpuPerReq.median - base.rate.cpuPerReq.median >= 0 ? '+' : '') + fmt(s.rate.cpuPerReq.median - base.rate.cpuPerReq.median, 1),
    fmt(s.rate.latencyP99.median)
  ])
  const header = ['variant', 'route', `peak req/s (-c ${opts.connections})`, 'vs bare', `CPU µs/req @${opts.rate}/s`, 'vs bare', 'Δ µs', 'p99 ms']
  console.log(`\nNode ${process.version}, ${cpus()[0]?.model ?? 'unknown CPU'} x${CPU_COUNT}, ${pinned ? 'server on cpu0, load on cpu1' : 'not pinned'}; ` +
    `${opts.rounds} rounds; median [min–max]`)
  console.log(table(header, rows))
  for (const s of summary) if (s.failures > 0) console.log(`warning: ${s.name}: ${s.failures} non-2xx responses, errors or timeouts`)
  for (const s of summary) {
    if (s.rate.reqPerSec.min < opts.rate * 0.95) console.log(`warning: ${s.name}: the server fell behind the offered ${opts.rate} req/s (${fmt(s.rate.reqPerSec.min)}): lower --rate`)
  }
  for (const n of notes) console.log(`note: ${n}`)

  const results = {
    date: new Date().toISOString(),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    cpu: cpus()[0]?.model,
    cpus: CPU_COUNT,
    pinned,
    options: { ...opts, out: undefined },
    notes,
    variants: summary,
    ratiosVsBare: Object.fromEntries(summary.map(s => [s.name, {
      peakReqPerSec: s.peak.reqPerSec.median / base.peak.reqPerSec.median,
      cpuPerReq: s.rate.cpuPerReq.median / base.rate.cpuPerReq.median,
      addedCpuMicrosPerReq: s.rate.cpuPerReq.median - base.rate.cpuPerReq.median
    }])),
    vmStatsAfter: vmStats
  }
  mkdirSync(dirname(opts.out), { recursive: true })
  // Two decimals are plenty for noisy measurements and keep the file readable.
  writeFileSync(opts.out, JSON.stringify(results, (_key, v) => typeof v === 'number' ? Math.round(v * 100) / 100 : v, 2) + '\n')
  console.log(`results: ${relative(process.cwd(), opts.out) || opts.out}`)
}

main().catch(err => {
  console.error(err)
  process.exit(1)
})
