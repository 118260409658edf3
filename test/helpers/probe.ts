import type { logCapture } from './app'
import { filter } from './app'
import { wat } from './fixtures'

/**
 * Programs for fixtures/wat/hm-probe.wat: a list of host calls per callback,
 * hex-encoded into the plugin configuration. The probe decodes it to address
 * 8192; data the calls point to sits from 12288 on, so its addresses are
 * known while the program is written.
 */
const BASE = 8192
const OPS_END = 12288
const OP_SIZE = 52

/** Where the probe writes outputs (ptr at OUT, size at OUT + 4). */
export const OUT = 256
/** The probe's linear memory: 2 pages, not grown by these small programs. */
export const MEM_END = 2 * 65536

export enum Phase { RequestHeaders = 1, ResponseHeaders = 2, Log = 3, Tick = 4, RequestBody = 5 }
export enum Fn { Ret, GetValue, GetPairs, GetSize, Add, Replace, Remove, SetPairs, LocalReply, Continue, Close, Effective, Done, TickPeriod }
/** Values only the probe knows, usable as arguments. */
export enum Var { Ctx, OutPtr, OutSize, Stream, A, B }

export const Maps = { RequestHeaders: 0, RequestTrailers: 1, ResponseHeaders: 2, ResponseTrailers: 3, HttpCallHeaders: 6, HttpCallTrailers: 7 } as const
export const Status = { Ok: 0, NotFound: 1, BadArgument: 2, InvalidMemoryAccess: 6, Unimplemented: 12 } as const

export interface VarRef { v: Var }
export const v = (x: Var): VarRef => ({ v: x })
type Arg = number | VarRef
export type Pairs = Array<[string, string]>

/** The ABI's pairs encoding (§7.1), written out independently of lib/abi/pairs.ts. */
export function encodePairs (pairs: Pairs): Buffer {
  const head = Buffer.alloc(4 + pairs.length * 8)
  head.writeUInt32LE(pairs.length, 0)
  const data = pairs.map(([k, val], i) => {
    head.writeUInt32LE(Buffer.byteLength(k, 'latin1'), 4 + i * 8)
    head.writeUInt32LE(Buffer.byteLength(val, 'latin1'), 8 + i * 8)
    return Buffer.from(`${k}\0${val}\0`, 'latin1')
  })
  return Buffer.concat([head, ...data])
}

/** Reads the pairs encoding back, strictly. */
export function decodePairs (b: Buffer): Pairs {
  if (b.length === 0) return []
  const n = b.readUInt32LE(0)
  let data = 4 + n * 8
  const out: Pairs = []
  for (let i = 0; i < n; i++) {
    const kl = b.readUInt32LE(4 + i * 8)
    const vl = b.readUInt32LE(8 + i * 8)
    const k = b.toString('latin1', data, data + kl)
    if (b[data + kl] !== 0) throw new Error('missing NUL after a name')
    data += kl + 1
    const val = b.toString('latin1', data, data + vl)
    if (b[data + vl] !== 0) throw new Error('missing NUL after a value')
    data += vl + 1
    out.push([k, val])
  }
  if (data !== b.length) throw new Error(`${b.length - data} trailing bytes`)
  return out
}

export class Program {
  private readonly ops: Buffer[] = []
  private readonly data: Buffer[] = []
  private dataLen = 0

  /** Places bytes in the data area; returns their [address, length]. */
  bytes (b: Buffer | string): [number, number] {
    const buf = typeof b === 'string' ? Buffer.from(b, 'latin1') : b
    const at = OPS_END + this.dataLen
    this.data.push(buf)
    // Keep every item 4-aligned.
    const pad = (4 - (buf.length % 4)) % 4
    if (pad > 0) this.data.push(Buffer.alloc(pad))
    this.dataLen += buf.length + pad
    return [at, buf.length]
  }

  /** Any call; returns its op index (the "op I" in the log). */
  call (phase: Phase, fn: Fn, args: Arg[] = [], dump: 0 | 1 | 2 = 0, dumpAt = OUT): number {
    if (args.length > 8) throw new Error('at most 8 args')
    const op = Buffer.alloc(OP_SIZE)
    let subst = 0
    op.writeUInt32LE(phase, 0)
    op.writeUInt32LE(fn, 4)
    args.forEach((a, k) => {
      if (typeof a === 'number') op.writeUInt32LE(a >>> 0, 20 + k * 4)
      else {
        subst |= 1 << k
        op.writeUInt32LE(a.v, 20 + k * 4)
      }
    })
    op.writeUInt32LE(subst, 8)
    op.writeUInt32LE(dump, 12)
    op.writeUInt32LE(dumpAt, 16)
    this.ops.push(op)
    if (4 + this.ops.length * OP_SIZE > OPS_END - BASE) throw new Error('too many ops')
    return this.ops.length - 1
  }

  ret (phase: Phase, value: number): number {
    return this.call(phase, Fn.Ret, [value])
  }

  getValue (phase: Phase, map: number, name: string): number {
    const [p, n] = this.bytes(name)
    return this.call(phase, Fn.GetValue, [map, p, n, OUT, OUT + 4], 1)
  }

  getPairs (phase: Phase, map: number): number {
    return this.call(phase, Fn.GetPairs, [map, OUT, OUT + 4], 1)
  }

  getSize (phase: Phase, map: number): number {
    return this.call(phase, Fn.GetSize, [map, OUT], 2)
  }

  add (phase: Phase, map: number, name: string, value: string): number {
    return this.call(phase, Fn.Add, [map, ...this.bytes(name), ...this.bytes(value)])
  }

  replace (phase: Phase, map: number, name: string, value: string): number {
    return this.call(phase, Fn.Replace, [map, ...this.bytes(name), ...this.bytes(value)])
  }

  remove (phase: Phase, map: number, name: string): number {
    return this.call(phase, Fn.Remove, [map, ...this.bytes(name)])
  }

  setPairs (phase: Phase, map: number, pairs: Pairs | Buffer): number {
    return this.call(phase, Fn.SetPairs, [map, ...this.bytes(Array.isArray(pairs) ? encodePairs(pairs) : pairs)])
  }

  localReply (phase: Phase, status: number, o: { details?: string, body?: string | Buffer, headers?: Pairs | Buffer, grpc?: number } = {}): number {
    const details = o.details === undefined ? [0, 0] : this.bytes(Buffer.from(o.details))
    const body = o.body === undefined ? [0, 0] : this.bytes(o.body)
    const headers = o.headers === undefined ? [0, 0] : this.bytes(Array.isArray(o.headers) ? encodePairs(o.headers) : o.headers)
    return this.call(phase, Fn.LocalReply, [status, ...details, ...body, ...headers, o.grpc ?? -1])
  }

  hex (): string {
    const head = Buffer.alloc(4)
    head.writeUInt32LE(this.ops.length, 0)
    const ops = Buffer.concat([head, ...this.ops])
    return Buffer.concat([ops, Buffer.alloc(OPS_END - BASE - ops.length), ...this.data]).toString('hex')
  }
}

/** A filter config running `program` in the probe. */
export function probe (name: string, program: Program, extra: Record<string, unknown> = {}) {
  return filter(name, wat('hm-probe'), { configuration: program.hex(), ...extra })
}

type Logs = ReturnType<typeof logCapture>

export interface OpResult {
  status: number
  /** dump 1: the output pointer and size, and the bytes there. */
  ptr?: number
  size?: number
  bytes?: Buffer
  /** dump 2: the u32 written. */
  value?: number
}

/** Every result op `i` of filter `name` logged, in order. */
export function runs (logs: Logs, name: string, i: number): OpResult[] {
  const out: OpResult[] = []
  for (const m of logs.filterMessages(name)) {
    const r = /^op (\d+) (\d+)(?: (\d+)(?: (\d+) ([0-9a-f]*))?)?$/.exec(m)
    if (r === null || Number(r[1]) !== i) continue
    const res: OpResult = { status: Number(r[2]) }
    if (r[4] !== undefined) {
      res.ptr = Number(r[3])
      res.size = Number(r[4])
      res.bytes = Buffer.from(r[5], 'hex')
    } else if (r[3] !== undefined) {
      res.value = Number(r[3])
    }
    out.push(res)
  }
  return out
}

/** The first result of op `i`; throws when it never ran. */
export function result (logs: Logs, name: string, i: number): OpResult {
  const r = runs(logs, name, i)[0]
  if (r === undefined) throw new Error(`op ${i} of ${name} did not run; logged: ${logs.filterMessages(name).join(' | ')}`)
  return r
}

export const statusOf = (logs: Logs, name: string, i: number): number => result(logs, name, i).status

/** The value (latin1) op `i` read. */
export function textOf (logs: Logs, name: string, i: number): string {
  const r = result(logs, name, i)
  if (r.bytes === undefined) throw new Error(`op ${i} dumped no bytes`)
  return r.bytes.toString('latin1')
}

export interface Callback { phase: Phase, ctx: number, a: number, b: number }

/** The callbacks filter `name` logged ("cb PHASE CTX A B"). */
export function callbacks (logs: Logs, name: string, phase?: Phase): Callback[] {
  const out: Callback[] = []
  for (const m of logs.filterMessages(name)) {
    const r = /^cb (\d+) (\d+) (\d+) (\d+)$/.exec(m)
    if (r === null) continue
    const cb = { phase: Number(r[1]), ctx: Number(r[2]), a: Number(r[3]), b: Number(r[4]) }
    if (phase === undefined || cb.phase === phase) out.push(cb)
  }
  return out
}

/** Polls until `cond` holds (for callbacks that run after the response, such as on_log and on_tick). */
export async function until (cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (cond()) return
    await new Promise(resolve => setTimeout(resolve, 5))
  }
  throw new Error(`timed out waiting for ${what}`)
}
