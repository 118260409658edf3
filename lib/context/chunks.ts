import { WasmResult } from '../abi/status'
import type { HostBuffer } from '../host/types'

const EMPTY = Buffer.alloc(0)

/**
 * Body bytes waiting at one filter, kept as the chunks they arrived in so
 * that streaming through (the common case) never copies; a filter that
 * reads or rewrites a range gets them joined only when it asks.
 */
export class ChunkBuffer implements HostBuffer {
  private chunks: Buffer[] = []
  length = 0

  append (chunk: Buffer): void {
    if (chunk.length === 0) return
    this.chunks.push(chunk)
    this.length += chunk.length
  }

  /** Takes everything out, leaving the buffer empty. */
  take (): Buffer[] {
    const out = this.chunks
    this.chunks = []
    this.length = 0
    return out
  }

  clear (): void {
    this.chunks = []
    this.length = 0
  }

  private joined (): Buffer {
    if (this.chunks.length === 0) return EMPTY
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks, this.length)]
    return this.chunks[0]
  }

  read (start: number, len: number): Uint8Array {
    // Most reads fall inside the first chunk: no copy then.
    const first = this.chunks[0]
    if (first !== undefined && start + len <= first.length) return first.subarray(start, start + len)
    return this.joined().subarray(start, start + len)
  }

  /**
   * Replaces `len` bytes at `start` with `data` (proxy_set_buffer_bytes):
   * (0, 0) prepends, a start at or past the end appends, (0, length)
   * replaces everything, anything else replaces that range.
   */
  write (start: number, len: number, data: Uint8Array): WasmResult {
    const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength)
    if (start >= this.length) {
      this.append(bytes)
      return WasmResult.Ok
    }
    const whole = this.joined()
    const end = Math.min(this.length, start + len)
    const next = Buffer.concat([whole.subarray(0, start), bytes, whole.subarray(end)])
    this.chunks = next.length === 0 ? [] : [next]
    this.length = next.length
    return WasmResult.Ok
  }
}
