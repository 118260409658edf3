/**
 * A strict reader of the Prometheus text format 0.0.4, for tests: every
 * line must be a HELP, TYPE or sample line; names, label names and label
 * escapes must be valid; a family's lines are contiguous and appear once;
 * no series repeats; histogram buckets are cumulative, end at +Inf and
 * match _count. Throws on the first violation, naming the line.
 */

export interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}

export interface MetricFamily {
  name: string
  type: string
  help: string | undefined
  samples: Sample[]
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped'])

function sampleNamesOf (family: string, type: string): string[] {
  if (type === 'histogram') return [`${family}_bucket`, `${family}_sum`, `${family}_count`]
  if (type === 'summary') return [family, `${family}_sum`, `${family}_count`]
  return [family]
}

function parseValue (text: string, where: string): number {
  if (text === '+Inf') return Infinity
  if (text === '-Inf') return -Infinity
  if (text === 'NaN') return NaN
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new Error(`${where}: bad value ${JSON.stringify(text)}`)
  return Number(text)
}

/** Parses `{a="x",b="y"}` starting at `at` (the `{`); returns the labels and the index after `}`. */
function parseLabels (line: string, at: number, where: string): { labels: Record<string, string>, end: number } {
  const labels: Record<string, string> = {}
  let i = at + 1
  while (line[i] !== '}') {
    const eq = line.indexOf('=', i)
    if (eq < 0) throw new Error(`${where}: label without '='`)
    const name = line.slice(i, eq)
    if (!LABEL_NAME.test(name)) throw new Error(`${where}: bad label name ${JSON.stringify(name)}`)
    if (name in labels) throw new Error(`${where}: label ${name} repeated`)
    if (line[eq + 1] !== '"') throw new Error(`${where}: label value not quoted`)
    let value = ''
    let j = eq + 2
    for (;;) {
      const c = line[j]
      if (c === undefined) throw new Error(`${where}: unterminated label value`)
      if (c === '"') break
      if (c === '\\') {
        const e = line[j + 1]
        if (e === '\\') value += '\\'
        else if (e === '"') value += '"'
        else if (e === 'n') value += '\n'
        else throw new Error(`${where}: bad escape \\${e}`)
        j += 2
        continue
      }
      value += c
      j++
    }
    labels[name] = value
    i = j + 1
    if (line[i] === ',') i++
    else if (line[i] !== '}') throw new Error(`${where}: expected ',' or '}' after a label`)
  }
  return { labels, end: i + 1 }
}

export function parsePrometheus (text: string): Map<string, MetricFamily> {
  if (text.length > 0 && !text.endsWith('\n')) throw new Error('the text does not end with a newline')
  const families = new Map<string, MetricFamily>()
  const done = new Set<string>()
  const series = new Set<string>()
  let current: MetricFamily | undefined
  const open = (name: string, where: string): MetricFamily => {
    if (current?.name === name) return current
    if (done.has(name) || families.has(name)) throw new Error(`${where}: family ${name} appears twice`)
    if (current !== undefined) done.add(current.name)
    current = { name, type: 'untyped', help: undefined, samples: [] }
    families.set(name, current)
    return current
  }
  const lines = text.split('\n')
  lines.pop()
  lines.forEach((line, index) => {
    const where = `line ${index + 1} (${JSON.stringify(line)})`
    if (line === '') return
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line)
      if (m === null) return
      const [, kind, name, rest] = m
      if (!METRIC_NAME.test(name)) throw new Error(`${where}: bad metric name`)
      const f = open(name, where)
      if (kind === 'HELP') {
        if (f.help !== undefined) throw new Error(`${where}: second HELP`)
        if (/\\[^\\n]/.test(rest.replace(/\\\\/g, ''))) throw new Error(`${where}: bad escape in HELP`)
        f.help = rest.replace(/\\(\\|n)/g, (_m, c: string) => c === 'n' ? '\n' : '\\')
      } else {
        if (!TYPES.has(rest)) throw new Error(`${where}: unknown type ${rest}`)
        if (f.samples.length > 0 || f.type !== 'untyped') throw new Error(`${where}: TYPE after samples or twice`)
        f.type = rest
      }
      return
    }
    const nameEnd = line.search(/[{ ]/)
    if (nameEnd <= 0) throw new Error(`${where}: not a sample line`)
    const name = line.slice(0, nameEnd)
    if (!METRIC_NAME.test(name)) throw new Error(`${where}: bad metric name`)
    let labels: Record<string, string> = {}
    let rest = nameEnd
    if (line[nameEnd] === '{') ({ labels, end: rest } = parseLabels(line, nameEnd, where))
    if (line[rest] !== ' ') throw new Error(`${where}: expected a space before the value`)
    const parts = line.slice(rest + 1).split(' ')
    if (parts.length > 2 || (parts.length === 2 && !/^-?\d+$/.test(parts[1]))) throw new Error(`${where}: bad value or timestamp`)
    const value = parseValue(parts[0], where)
    let f = current
    if (f === undefined || !sampleNamesOf(f.name, f.type).includes(name)) f = open(name, where)
    if (f.type === 'histogram' && name.endsWith('_bucket') && labels.le === undefined) throw new Error(`${where}: bucket without le`)
    const key = name + JSON.stringify(Object.entries(labels).sort())
    if (series.has(key)) throw new Error(`${where}: series repeated`)
    series.add(key)
    f.samples.push({ name, labels, value })
  })
  for (const f of families.values()) if (f.type === 'histogram') checkHistogram(f)
  return families
}

/** Buckets per series: cumulative, +Inf last, equal to _count. */
function checkHistogram (f: MetricFamily): void {
  const bySeries = new Map<string, { buckets: [number, number][], count?: number, sum?: number }>()
  const keyOf = (labels: Record<string, string>) => JSON.stringify(Object.entries(labels).filter(([k]) => k !== 'le').sort())
  for (const s of f.samples) {
    const k = keyOf(s.labels)
    let e = bySeries.get(k)
    if (e === undefined) bySeries.set(k, e = { buckets: [] })
    if (s.name.endsWith('_bucket')) e.buckets.push([parseValue(s.labels.le, `${f.name} le`), s.value])
    else if (s.name.endsWith('_count')) e.count = s.value
    else e.sum = s.value
  }
  for (const [k, e] of bySeries) {
    const where = `${f.name}${k}`
    if (e.buckets.length === 0 || e.count === undefined || e.sum === undefined) throw new Error(`${where}: needs buckets, _sum and _count`)
    for (let i = 1; i < e.buckets.length; i++) {
      if (!(e.buckets[i][0] > e.buckets[i - 1][0])) throw new Error(`${where}: le not increasing`)
      if (e.buckets[i][1] < e.buckets[i - 1][1]) throw new Error(`${where}: buckets not cumulative`)
    }
    const last = e.buckets[e.buckets.length - 1]
    if (last[0] !== Infinity) throw new Error(`${where}: the last bucket is not +Inf`)
    if (last[1] !== e.count) throw new Error(`${where}: _count ${e.count} differs from the +Inf bucket ${last[1]}`)
  }
}

/** The value of `name` with exactly these labels, or undefined. */
export function valueOf (families: Map<string, MetricFamily>, name: string, labels: Record<string, string>): number | undefined {
  const want = JSON.stringify(Object.entries(labels).sort())
  for (const f of families.values()) {
    for (const s of f.samples) {
      if (s.name === name && JSON.stringify(Object.entries(s.labels).sort()) === want) return s.value
    }
  }
  return undefined
}
