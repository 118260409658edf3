import t, { test } from 'tap'
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'

// Every committed .wasm must be what its source in fixtures/ builds to.
// WAT (wabt) and AssemblyScript come from npm, so they are always checked;
// Rust and C need Debian's toolchains and are checked where those exist.
const build = join(__dirname, '..', 'fixtures', 'build.mjs')

// Compiling every AssemblyScript filter takes a while on a busy machine.
t.setTimeout(600_000)

for (const kind of ['wat', 'as', 'rust', 'c']) {
  test(`committed ${kind} fixtures are reproducible from their sources`, async t => {
    let out = ''
    try {
      out = execFileSync(process.execPath, [build, '--check', '--only', kind], { encoding: 'utf8', stdio: 'pipe' })
    } catch (err) {
      const e = err as { stdout?: string, stderr?: string }
      t.fail(`${kind} fixtures are stale:\n${e.stderr ?? ''}${e.stdout ?? ''}`)
      return
    }
    t.notMatch(out, /stale/)
    t.pass(`${kind} fixtures match their sources`)
  })
}
