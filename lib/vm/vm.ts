import { GuestMemory } from './memory'
import { describeTrap } from './traps'
import type { WasmInstance, WasmMemory } from './wasm-api'

/** What a host function may call into while the guest is starting or allocating. */
export enum Restriction {
  None = 0,
  Start = 1,
  Allocation = 2
}

export type WasmFunction = (...args: (number | bigint)[]) => number | bigint | undefined

/**
 * One instantiated module: its memory, exports, and the discipline around
 * calling into it. A trap in any call marks the VM failed for good; later
 * calls are refused. Knows nothing of Proxy-Wasm contexts.
 */
export class WasmVm {
  readonly mem = new GuestMemory()
  exports: Record<string, unknown> = {}
  /** Nesting depth of host→guest calls (allocation runs inside hostcalls). */
  depth = 0
  restriction = Restriction.None
  failed = false
  failure: { callback: string, message: string } | undefined
  private readonly failListeners: ((callback: string, message: string) => void)[] = []
  private malloc: WasmFunction | undefined

  /** Binds the instance once instantiation has returned. */
  attach (instance: WasmInstance, memory: WasmMemory): void {
    this.exports = instance.exports
    this.mem.bind(memory)
    // The reference host prefers malloc when both are exported.
    const m = this.exports.malloc ?? this.exports.proxy_on_memory_allocate
    this.malloc = typeof m === 'function' ? m as WasmFunction : undefined
  }

  fn (name: string): WasmFunction | undefined {
    const f = this.exports[name]
    return typeof f === 'function' ? f as WasmFunction : undefined
  }

  onFail (listener: (callback: string, message: string) => void): void {
    this.failListeners.push(listener)
  }

  /** Marks the VM failed (once) and tells the listeners. */
  fail (callback: string, message: string): void {
    if (this.failed) return
    this.failed = true
    this.failure = { callback, message }
    for (const l of this.failListeners) l(callback, message)
  }

  /**
   * Calls an export. Returns its i32 result (0 for void), or undefined when
   * the VM is failed, the call trapped, or the VM failed during the call
   * (e.g. in a nested allocation): then its result means nothing.
   */
  call (name: string, fn: WasmFunction, a?: number, b?: number, c?: number, d?: number, e?: number): number | undefined {
    if (this.failed) return undefined
    this.depth++
    try {
      const r = fn(a as number, b as number, c as number, d as number, e as number)
      if (this.failed) return undefined
      return typeof r === 'number' ? r : 0
    } catch (err) {
      this.fail(name, describeTrap(err))
      return undefined
    } finally {
      this.depth--
    }
  }

  /**
   * Runs the guest allocator with only logging allowed, as the reference
   * host does. Returns 0 when it fails or hands back memory out of bounds.
   */
  allocate (size: number): number {
    const malloc = this.malloc
    if (malloc === undefined || this.failed) return 0
    const saved = this.restriction
    this.restriction = Restriction.Allocation
    this.depth++
    let ptr: number
    try {
      ptr = Number(malloc(size)) >>> 0
    } catch (err) {
      this.fail('malloc', describeTrap(err))
      return 0
    } finally {
      this.depth--
      this.restriction = saved
    }
    if (ptr === 0 || !this.mem.valid(ptr, size)) return 0
    return ptr
  }
}
