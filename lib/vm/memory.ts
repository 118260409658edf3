/**
 * Bounds-checked access to a module's linear memory. The Buffer view is cached
 * and rebuilt only when the memory grows (growth detaches the old buffer,
 * whose views then report length 0).
 */
import type { WasmMemory } from './wasm-api'

export class GuestMemory {
  private view: Buffer = Buffer.alloc(0)
  // An exported memory is out of reach until instantiation returns (a start
  // function runs before that); until then every access is out of bounds.
  private memory: WasmMemory | undefined

  bind (memory: WasmMemory): void {
    this.memory = memory
  }

  /** The current view; refreshed after growth. */
  get buf (): Buffer {
    let v = this.view
    const memory = this.memory
    if (memory !== undefined && (v.length === 0 || v.buffer !== memory.buffer)) {
      v = this.view = Buffer.from(memory.buffer)
    }
    return v
  }

  get byteLength (): number {
    return this.memory === undefined ? 0 : this.memory.buffer.byteLength
  }

  /** Whether [ptr, ptr+len) lies inside memory. Arguments are raw i32s. */
  valid (ptr: number, len: number): boolean {
    return (ptr >>> 0) + (len >>> 0) <= this.byteLength
  }

  /** A view of guest bytes (valid until the next growth), or null if out of bounds. */
  slice (ptr: number, len: number): Buffer | null {
    const p = ptr >>> 0
    const l = len >>> 0
    const buf = this.buf
    if (p + l > buf.length) return null
    return buf.subarray(p, p + l)
  }

  /** A copy of guest bytes, or null if out of bounds. */
  copy (ptr: number, len: number): Buffer | null {
    const v = this.slice(ptr, len)
    return v === null ? null : Buffer.from(v)
  }

  latin1 (ptr: number, len: number): string | null {
    const p = ptr >>> 0
    const l = len >>> 0
    const buf = this.buf
    if (p + l > buf.length) return null
    return buf.toString('latin1', p, p + l)
  }

  utf8 (ptr: number, len: number): string | null {
    const p = ptr >>> 0
    const l = len >>> 0
    const buf = this.buf
    if (p + l > buf.length) return null
    return buf.toString('utf8', p, p + l)
  }

  u32 (ptr: number): number | null {
    const p = ptr >>> 0
    const buf = this.buf
    if (p + 4 > buf.length) return null
    return buf.readUInt32LE(p)
  }

  writeU32 (ptr: number, value: number): boolean {
    const p = ptr >>> 0
    const buf = this.buf
    if (p + 4 > buf.length) return false
    buf.writeUInt32LE(value >>> 0, p)
    return true
  }

  writeU64 (ptr: number, value: bigint): boolean {
    const p = ptr >>> 0
    const buf = this.buf
    if (p + 8 > buf.length) return false
    buf.writeBigUInt64LE(BigInt.asUintN(64, value), p)
    return true
  }

  writeU16 (ptr: number, value: number): boolean {
    const p = ptr >>> 0
    const buf = this.buf
    if (p + 2 > buf.length) return false
    buf.writeUInt16LE(value & 0xffff, p)
    return true
  }

  writeBytes (ptr: number, bytes: Uint8Array): boolean {
    const p = ptr >>> 0
    const buf = this.buf
    if (p + bytes.length > buf.length) return false
    buf.set(bytes, p)
    return true
  }
}
