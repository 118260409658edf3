/**
 * The part of the WebAssembly JS API the host uses. @types/node does not
 * declare it (it lives in TypeScript's DOM library), and the published
 * declarations must not need DOM types, so it is typed here.
 */
export interface WasmMemory {
  readonly buffer: ArrayBuffer
  grow (delta: number): number
}

export interface WasmModule { readonly __brand?: 'WebAssembly.Module' }

export interface WasmInstance {
  readonly exports: Record<string, unknown>
}

export type WasmImports = Record<string, Record<string, unknown>>

interface WasmApi {
  compile (bytes: Uint8Array): Promise<WasmModule>
  validate (bytes: Uint8Array): boolean
  Instance: new (module: WasmModule, imports: WasmImports) => WasmInstance
  Memory: new (descriptor: { initial: number, maximum?: number }) => WasmMemory
  RuntimeError: new (...args: unknown[]) => Error
  CompileError: new (...args: unknown[]) => Error
}

export const WA = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly
