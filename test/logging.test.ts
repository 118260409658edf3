import { test } from 'tap'
import { buildApp, filter } from './helpers/app'
import { wat } from './helpers/fixtures'

const PINO = [10, 20, 30, 40, 50, 60]

test('proxy_log levels 0..5 become pino trace..fatal with {filter, context} and the text as msg', async t => {
  const { app, logs } = await buildApp(t, { configs: [filter('l', wat('log-probe'))] })
  let reqId = ''
  app.get('/', async (req) => { reqId = String(req.id); return 'ok' })
  const res = await app.inject('/')
  t.equal(res.statusCode, 200)
  t.equal(res.headers['x-log-status'], '000000', 'every level answers Ok')

  const root = logs.lines.filter(l => l.msg === 'vm start')
  t.equal(root.length, 1)
  t.match(root[0], { level: 30, filter: 'l', context: 1 }, 'root context logs go to the app logger with the root context id')
  t.equal(root[0].reqId, undefined)

  const levels = logs.lines.filter(l => l.filter === 'l' && l.msg.startsWith('level '))
  t.same(levels.map(l => l.msg), [0, 1, 2, 3, 4, 5].map(n => `level ${n} ✓`), 'UTF-8 text, as given')
  t.same(levels.map(l => l.level), PINO, 'trace, debug, info, warn, error, fatal')
  const contexts = new Set(levels.map(l => l.context))
  t.equal(contexts.size, 1)
  t.not([...contexts][0], 1, 'a stream context id, not the root\'s')
  t.ok(levels.every(l => l.reqId === reqId), 'through the request\'s logger')
})

test('proxy_log: level 6 is BadArgument; bad pointers are InvalidMemoryAccess; proxy_get_log_level with a bad pointer too', async t => {
  const { app } = await buildApp(t, { configs: [filter('l', wat('log-probe'))] })
  app.get('/', async () => 'ok')
  const res = await app.inject('/')
  t.equal(res.headers['x-log-6'], '2')
  t.equal(res.headers['x-log-oob'], '6')
  t.equal(res.headers['x-log-wrap'], '6', 'pointer + length past 4 GiB')
  t.equal(res.headers['x-log-level-status'], '0')
  t.equal(res.headers['x-log-level-oob'], '6')
  t.equal(app.proxyWasm.stats()[0].failed, false)
})

test('proxy_get_log_level reports the logger level; messages below it are not written', async t => {
  const cases = [['trace', 0], ['debug', 1], ['info', 2], ['warn', 3], ['error', 4], ['fatal', 5], ['silent', 6]] as const
  for (const [level, expected] of cases) {
    const { app, logs } = await buildApp(t, { configs: [filter('l', wat('log-probe'))] }, { level })
    app.get('/', async () => 'ok')
    const res = await app.inject('/')
    t.equal(res.headers['x-log-level'], String(expected), `${level} -> ${expected}`)
    t.equal(res.headers['x-log-status'], '000000', `${level}: Ok even when nothing is written`)
    const written = logs.lines.filter(l => l.filter === 'l' && l.msg.startsWith('level ')).map(l => l.msg)
    t.same(written, [0, 1, 2, 3, 4, 5].filter(n => n >= expected).map(n => `level ${n} ✓`), `${level}: only levels >= ${expected} are written`)
    await app.close()
  }
})
