/**
 * A small reader for the WebAssembly binary format. Node 20's WebAssembly API
 * cannot tell the signature of an import or export, and a JS host function
 * accepts any signature at link time, so the host reads the type, import,
 * function and export sections itself to reject mismatches with a clear error.
 */

/** A signature written compactly: params, ':', results. i=i32 I=i64 f=f32 F=f64. */
export type Signature = string

export interface ImportInfo {
  module: string
  name: string
  kind: 'function' | 'table' | 'memory' | 'global' | 'tag'
  signature?: Signature
  /** Memory imports: initial and maximum pages. */
  limits?: { min: number, max?: number }
}

export interface ExportInfo {
  name: string
  kind: 'function' | 'table' | 'memory' | 'global' | 'tag'
  signature?: Signature
}

export interface ModuleInfo {
  imports: ImportInfo[]
  /** In export-section order (the first ABI marker found wins). */
  exports: ExportInfo[]
  hasStart: boolean
  customSections: string[]
}

export class BytecodeError extends Error {}

const KINDS = ['function', 'table', 'memory', 'global', 'tag'] as const

function valtype (b: number): string {
  switch (b) {
    case 0x7f: return 'i'
    case 0x7e: return 'I'
    case 0x7d: return 'f'
    case 0x7c: return 'F'
    default: return '?'
  }
}

class Reader {
  pos: number
  constructor (readonly buf: Uint8Array, pos: number, readonly end: number) {
    this.pos = pos
  }

  byte (): number {
    if (this.pos >= this.end) throw new BytecodeError('unexpected end of module')
    return this.buf[this.pos++]
  }

  u32 (): number {
    let result = 0
    let shift = 0
    for (;;) {
      const b = this.byte()
      result += (b & 0x7f) * 2 ** shift
      if ((b & 0x80) === 0) break
      shift += 7
      if (shift > 28) throw new BytecodeError('malformed LEB128 integer')
    }
    if (result > 0xffffffff) throw new BytecodeError('integer too large')
    return result
  }

  skip (n: number): void {
    if (this.pos + n > this.end) throw new BytecodeError('unexpected end of module')
    this.pos += n
  }

  name (): string {
    const len = this.u32()
    const start = this.pos
    this.skip(len)
    return Buffer.from(this.buf.buffer, this.buf.byteOffset + start, len).toString('utf8')
  }

  limits (): { min: number, max?: number } {
    const flags = this.byte()
    const min = this.u32()
    const max = (flags & 1) ? this.u32() : undefined
    return { min, max }
  }
}

/** Reads the parts of a module the host links against. Throws BytecodeError. */
export function readModuleInfo (bytes: Uint8Array): ModuleInfo {
  if (bytes.length < 8 || bytes[0] !== 0 || bytes[1] !== 0x61 || bytes[2] !== 0x73 || bytes[3] !== 0x6d) {
    throw new BytecodeError('missing the \\0asm magic number')
  }
  const types: (Signature | undefined)[] = []
  const funcTypes: (Signature | undefined)[] = []
  const imports: ImportInfo[] = []
  const exports: ExportInfo[] = []
  const customSections: string[] = []
  let hasStart = false

  const top = new Reader(bytes, 8, bytes.length)
  while (top.pos < top.end) {
    const id = top.byte()
    const size = top.u32()
    const start = top.pos
    top.skip(size)
    const r = new Reader(bytes, start, start + size)
    switch (id) {
      case 0:
        customSections.push(r.name())
        break
      case 1: {
        const n = r.u32()
        for (let i = 0; i < n; i++) {
          const form = r.byte()
          if (form !== 0x60) {
            // GC proposal types: signatures unknown, checks are skipped.
            types.length = n
            r.pos = r.end
            break
          }
          let sig = ''
          const np = r.u32()
          for (let j = 0; j < np; j++) sig += valtype(r.byte())
          sig += ':'
          const nr = r.u32()
          for (let j = 0; j < nr; j++) sig += valtype(r.byte())
          types.push(sig)
        }
        break
      }
      case 2: {
        const n = r.u32()
        for (let i = 0; i < n; i++) {
          const module = r.name()
          const name = r.name()
          const kind = r.byte()
          if (kind === 0) {
            const sig = types[r.u32()]
            funcTypes.push(sig)
            imports.push({ module, name, kind: 'function', signature: sig })
          } else if (kind === 1) {
            r.byte()
            r.limits()
            imports.push({ module, name, kind: 'table' })
          } else if (kind === 2) {
            imports.push({ module, name, kind: 'memory', limits: r.limits() })
          } else if (kind === 3) {
            r.byte()
            r.byte()
            imports.push({ module, name, kind: 'global' })
          } else if (kind === 4) {
            r.byte()
            r.u32()
            imports.push({ module, name, kind: 'tag' })
          } else {
            throw new BytecodeError(`unknown import kind ${kind}`)
          }
        }
        break
      }
      case 3: {
        const n = r.u32()
        for (let i = 0; i < n; i++) funcTypes.push(types[r.u32()])
        break
      }
      case 7: {
        const n = r.u32()
        for (let i = 0; i < n; i++) {
          const name = r.name()
          const kind = r.byte()
          const index = r.u32()
          if (kind > 4) throw new BytecodeError(`unknown export kind ${kind}`)
          exports.push({ name, kind: KINDS[kind], signature: kind === 0 ? funcTypes[index] : undefined })
        }
        break
      }
      case 8:
        hasStart = true
        break
      default:
        break
    }
  }
  return { imports, exports, hasStart, customSections }
}

/** Human-readable form of a compact signature, for error messages. */
export function describeSignature (sig: Signature | undefined): string {
  if (sig === undefined) return 'unknown'
  const names: Record<string, string> = { i: 'i32', I: 'i64', f: 'f32', F: 'f64', '?': 'other' }
  const [params, results] = sig.split(':')
  const p = [...params].map(c => names[c]).join(', ')
  const r = [...results].map(c => names[c]).join(', ')
  return `(${p}) -> (${r})`
}
