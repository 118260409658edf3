import { WA } from './wasm-api'

/**
 * Exceptions a host function throws on purpose to end the running Wasm call.
 * They unwind through the guest like a trap and mark the VM failed.
 */

/** WASI `proc_exit`: the module asked to end. */
export class ProcExit extends Error {
  constructor (readonly code: number) {
    super(`proc_exit(${code})`)
    this.name = 'ProcExit'
  }
}

/** A host function called where it is not allowed (during start or allocation). */
export class RestrictedCall extends Error {
  constructor (readonly fn: string, readonly during: string) {
    super(`restricted_callback: ${fn} may not be called during ${during}`)
    this.name = 'RestrictedCall'
  }
}

export function isHostTrap (err: unknown): boolean {
  return err instanceof ProcExit || err instanceof RestrictedCall
}

/** One line describing a trap, plus the Wasm frames of its stack (at most 20). */
export function describeTrap (err: unknown): string {
  if (!(err instanceof Error)) return String(err)
  const frames = (err.stack ?? '').split('\n')
    .filter(l => l.includes('wasm://') || l.includes('wasm-function'))
    .slice(0, 20)
    .map(l => l.trim())
  const isWasmTrap = (err as object) instanceof WA.RuntimeError
  const head = isWasmTrap
    ? `wasm trap: ${err.message}`
    : err instanceof RangeError && /call stack/i.test(err.message)
      ? 'wasm trap: call stack exhausted'
      : `${err.name}: ${err.message}`
  return frames.length > 0 ? `${head}\n  ${frames.join('\n  ')}` : head
}
