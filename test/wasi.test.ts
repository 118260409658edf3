import { test } from 'tap'
import { buildApp, filter, type LogLine } from './helpers/app'
import { c, rust, wat } from './helpers/fixtures'

const HOST_VAR = 'FASTIFY_PROXY_WASM_TEST_HOST_VAR'
const ENV = { environment_variables: { key_values: { FOO: 'foo-v', BAR: 'b=r' }, host_env_keys: [HOST_VAR, 'FASTIFY_PROXY_WASM_TEST_UNSET'] } }

/** Messages a filter logged from stream contexts (not the root's nor the VM's). */
function streamLines (lines: LogLine[], name: string): LogLine[] {
  return lines.filter(l => l.filter === name && l.reqId !== undefined)
}

const msgs = (lines: LogLine[], level?: number) => lines.filter(l => level === undefined || l.level === level).map(l => l.msg)

/** One line starting with `word ` among a filter's messages; the rest of it. */
function after (lines: LogLine[], name: string, word: string): string {
  const found = lines.filter(l => l.filter === name && l.msg.startsWith(word + ' '))
  if (found.length !== 1) throw new Error(`expected one "${word} ..." line from ${name}, got ${found.length}`)
  return found[0].msg.slice(word.length + 1)
}

const MS5 = 5_000_000n

test('Rust std: println! is info, eprintln! is error, one trailing newline stripped', async t => {
  const { app, logs } = await buildApp(t, { configs: [filter('rs', rust('wasi'))] })
  app.get('/', async () => 'ok')
  await app.ready()
  t.match(logs.lines.find(l => l.msg === 'vm start'), { filter: 'rs', context: 1, level: 30 }, 'stdout from the root context')
  const res = await app.inject({ url: '/', headers: { 'x-do': 'print' } })
  t.equal(res.statusCode, 200)
  const lines = streamLines(logs.lines, 'rs')
  t.same(msgs(lines, 30), ['to stdout 1', 'two\n'], 'info; "two\\n\\n" keeps one newline')
  // Rust's stderr is unbuffered: one fd_write (one log line) per formatted piece.
  t.equal(msgs(lines, 50).join(''), 'to stderr 2')
  t.ok(lines.every(l => l.context !== 1), 'logged by the stream context')
})

test('C stdio: printf is info, fprintf(stderr) is error', async t => {
  const { app, logs } = await buildApp(t, { configs: [filter('cr', c('reactor'))] })
  app.get('/', async () => 'ok')
  await app.inject({ url: '/', headers: { 'x-do': 'print' } })
  const lines = streamLines(logs.lines, 'cr')
  t.same(msgs(lines, 30), ['printf 1'])
  t.same(msgs(lines, 50), ['fprintf stderr 2'])
  t.ok(logs.lines.some(l => l.filter === 'cr' && l.context === 1 && l.msg === 'reactor vm start'))
})

test('environment: key_values and host_env_keys from the process env; nothing else', async t => {
  process.env[HOST_VAR] = 'from-host'
  t.teardown(() => { delete process.env[HOST_VAR] })
  t.ok(process.env.PATH !== undefined, 'the process has variables the filter must not see')
  const { app, logs } = await buildApp(t, {
    configs: [filter('rs', rust('wasi'), {}, ENV), filter('cr', c('reactor'), {}, ENV), filter('cc', c('command'), {}, ENV)]
  })
  app.get('/', async () => 'ok')
  await app.inject({ url: '/', headers: { 'x-do': 'env' } })
  t.equal(after(logs.lines, 'rs', 'env'), `BAR=b=r;${HOST_VAR}=from-host;FOO=foo-v`, 'std::env::vars(): exactly the configured ones')
  t.equal(after(logs.lines, 'rs', 'missing'), 'absent')
  t.same(msgs(streamLines(logs.lines, 'cr')), ['FOO=foo-v', 'BAR=b=r', 'MISSING=absent'], 'getenv')
  t.match(logs.lines.find(l => l.filter === 'cc' && l.msg.startsWith('main ran')), { msg: 'main ran argc=0 FOO=foo-v', context: 0 },
    'a command\'s main() runs at start (VM context) with the environment and no arguments')
})

test('clocks: realtime is wall-clock ns, monotonic is the host\'s monotonic clock', async t => {
  const hrStart = process.hrtime.bigint()
  const { app, logs } = await buildApp(t, { configs: [filter('rs', rust('wasi')), filter('cr', c('reactor'))] })
  app.get('/', async () => 'ok')
  const before = BigInt(Date.now()) * 1_000_000n
  const hrBefore = process.hrtime.bigint()
  await app.inject({ url: '/', headers: { 'x-do': 'time' } })
  const hrAfter = process.hrtime.bigint()
  const afterNs = BigInt(Date.now()) * 1_000_000n
  for (const name of ['rs', 'cr']) {
    const real = BigInt(after(logs.lines, name, 'realtime'))
    t.ok(real >= before - MS5 && real <= afterNs + MS5, `${name}: realtime ${real} within [${before}, ${afterNs}]`)
  }
  const elapsed = BigInt(after(logs.lines, 'rs', 'monotonic'))
  t.ok(elapsed > 0n && elapsed <= hrAfter - hrStart, `Rust Instant: ${elapsed} ns since on_vm_start`)
  const mono = BigInt(after(logs.lines, 'cr', 'monotonic'))
  t.ok(mono >= hrBefore && mono <= hrAfter, `C CLOCK_MONOTONIC ${mono} within [${hrBefore}, ${hrAfter}]`)
})

test('random bytes through random_get', async t => {
  const { app, logs } = await buildApp(t, { configs: [filter('rs', rust('wasi')), filter('cr', c('reactor'))] })
  app.get('/', async () => 'ok')
  await app.inject({ url: '/', headers: { 'x-do': 'random' } })
  const [st1, a, st2, b] = after(logs.lines, 'rs', 'random').split(' ')
  await app.inject({ url: '/', headers: { 'x-do': 'random' } })
  t.same([st1, st2], ['0', '0'])
  t.match(a, /^[0-9a-f]{64}$/)
  t.not(a, b, 'two draws differ')
  t.not(a, '0'.repeat(64))
  const cLines = logs.lines.filter(l => l.filter === 'cr' && l.msg.startsWith('random ')).map(l => l.msg.split(' '))
  t.equal(cLines.length, 2)
  t.same(cLines.map(l => l[1]), ['0', '0'], 'getentropy succeeded')
  t.match(cLines[0][2], /^[0-9a-f]{64}$/)
  t.not(cLines[0][2], cLines[1][2])
})

test('a Rust panic or a C abort fails the VM: 503 fail-closed, the request passes with fail_open', async t => {
  for (const [name, file, action] of [['rs', rust('wasi'), 'panic'], ['cr', c('reactor'), 'abort']] as const) {
    for (const failOpen of [false, true]) {
      const { app, logs } = await buildApp(t, { configs: [filter(name, file, { fail_open: failOpen })] })
      let handled = 0
      app.get('/', async () => { handled++; return 'through' })
      const res = await app.inject({ url: '/', headers: { 'x-do': action } })
      if (failOpen) {
        t.equal(res.statusCode, 200, `${name} ${action}, fail_open: passes`)
        t.equal(res.body, 'through')
        t.equal(handled, 1)
      } else {
        t.equal(res.statusCode, 503, `${name} ${action}: 503`)
        t.equal(res.json().code, 'FST_PROXY_WASM_VM_FAILED')
        t.equal(handled, 0)
      }
      t.equal(app.proxyWasm.stats()[0].failed, true)
      const stderr = msgs(streamLines(logs.lines, name), 50).join('')
      t.match(stderr, action === 'panic' ? /panicked at 'boom'/ : /aborting/, 'the message reached the error log first')
      t.ok(logs.lines.some(l => l.callback === 'proxy_on_request_headers' && /wasm trap: unreachable/.test(l.msg)), 'the trap is logged')
      await app.close()
    }
  }
})

test('a C command module: _start runs main() once at start; callbacks work afterwards', async t => {
  const { app, logs } = await buildApp(t, { configs: [filter('cc', c('command'))] })
  app.get('/', async () => 'ok')
  await app.inject('/')
  await app.inject('/')
  t.same(logs.filterMessages('cc'), ['main ran argc=0 FOO=absent', 'command request', 'command request'])
})

test('WASI edge cases: errno values, byte-exact environ, poll_oneoff and args', async t => {
  const { app, logs } = await buildApp(t, {
    configs: [filter('w', wat('wasi-edge'), {}, { environment_variables: { key_values: { A: '1', LONGER: 'x=y' } } })]
  })
  app.get('/', async () => 'ok')
  const res = await app.inject('/')
  t.equal(res.statusCode, 200)
  const lines = streamLines(logs.lines, 'w')
  const r = (word: string) => after(lines, 'w', word)
  t.equal(r('fd3'), '8', 'fd_write to fd 3: BADF')
  t.equal(r('bad-iovs'), '21', 'iovec array out of bounds: FAULT')
  t.equal(r('bad-iov-buf'), '21', 'an iovec buffer out of bounds: FAULT')
  t.equal(r('bad-nwritten'), '21', 'nwritten out of bounds: FAULT')
  t.equal(r('two-iovs'), '0 4', 'two iovecs: Ok, nwritten counts the newline')
  t.same(msgs(lines, 50), ['abc'], 'fd 2: the iovecs joined, at error, newline stripped')
  t.equal(r('empty'), '0 0', 'an empty write logs nothing')
  t.ok(msgs(lines, 30).includes('unstable'), 'wasi_unstable.fd_write works too')
  t.equal(r('unstable'), '0')
  t.equal(r('random-65537'), '28', 'random_get over 64 KiB: INVAL')
  t.equal(r('random-65536'), '0', 'exactly 64 KiB: Ok')
  t.equal(r('random-0'), '0')
  t.equal(r('random-bad'), '21')
  t.equal(r('clock-2'), '58', 'process CPU clock: NOTSUP')
  t.equal(r('clock-3'), '58', 'thread CPU clock: NOTSUP')
  t.equal(r('clock-0-bad'), '21')
  t.match(r('clock-1'), /^0 [0-9a-f]{16}$/)
  t.equal(r('clock-res-0'), '0 0100000000000000', 'resolution 1 ns, u64 little-endian')
  t.equal(r('clock-res-2'), '58')
  t.equal(r('path-open'), '44', 'path_open: NOENT')
  t.equal(r('fd-read'), '52', 'fd_read: NOSYS')
  t.equal(r('poll'), '0 0', 'poll_oneoff: Ok with nevents 0')
  t.equal(r('environ-sizes'), '0 2 15', '2 variables, 15 bytes with the NULs')
  t.equal(r('environ'), `0 0 4 ${Buffer.from('A=1\0LONGER=x=y\0').toString('hex')}`, 'pointers to consecutive KEY=VALUE\\0 strings')
  t.equal(r('environ-bad'), '21')
  t.equal(r('args-sizes'), '0 0 0', 'no arguments')
  t.equal(r('args'), '0')
  t.equal(r('yield'), '0')
  t.equal(r('fdstat-1'), '0')
  t.equal(r('fdstat-5'), '8')
  t.equal(app.proxyWasm.stats()[0].failed, false, 'none of this fails the VM')
})

test('an empty environment: environ_sizes_get is 0 and 0', async t => {
  const { app, logs } = await buildApp(t, { configs: [filter('w', wat('wasi-edge'))] })
  app.get('/', async () => 'ok')
  await app.inject('/')
  t.equal(after(logs.lines, 'w', 'environ-sizes'), '0 0 0')
  t.equal(after(logs.lines, 'w', 'environ'), '0 ')
})

test('proc_exit from a callback ends the call as a trap: the VM fails', async t => {
  for (const code of ['0', '3']) {
    for (const failOpen of [false, true]) {
      const { app, logs } = await buildApp(t, { configs: [filter('w', wat('wasi-edge'), { fail_open: failOpen })] })
      let handled = 0
      app.get('/', async () => { handled++; return 'through' })
      const res = await app.inject({ url: '/', headers: { 'x-exit': code } })
      t.equal(res.statusCode, failOpen ? 200 : 503, `proc_exit(${code}), fail_open ${failOpen}`)
      t.equal(handled, failOpen ? 1 : 0)
      t.same(logs.filterMessages('w'), ['before exit'], 'the call did not continue after proc_exit')
      t.ok(logs.lines.some(l => l.callback === 'proxy_on_request_headers' && l.msg.includes(`proc_exit(${code})`)))
      t.equal(app.proxyWasm.stats()[0].failed, true)
      await app.close()
    }
  }
})
