import type { HostBuffer } from '../host/types'

/** A read-only buffer over bytes the host owns (configurations, call data). */
export class ReadOnlyBuffer implements HostBuffer {
  constructor (private readonly bytes: Uint8Array) {}

  get length (): number {
    return this.bytes.length
  }

  read (start: number, len: number): Uint8Array {
    return this.bytes.subarray(start, start + len)
  }
}
