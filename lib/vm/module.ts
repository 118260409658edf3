import { createHash } from 'node:crypto'
import { AbiVersion } from '../abi/enums'
import { ABI_MARKERS, callbackSignatures, envImportSignatures, WASI_MODULES, WASI_SIGNATURES } from '../abi/signatures'
import { BytecodeError, describeSignature, readModuleInfo, type ModuleInfo } from './bytecode'
import { WA, type WasmModule } from './wasm-api'

/** Why a module cannot be used; the config layer adds the file and key. */
export class ModuleError extends Error {
  constructor (message: string, readonly reason: 'not-wasm' | 'no-abi' | 'no-allocator' | 'import' | 'export' | 'memory') {
    super(message)
    this.name = 'ModuleError'
  }
}

export interface CompiledModule {
  module: WasmModule
  info: ModuleInfo
  abi: AbiVersion
  sha256: string
  /** The module imports its memory instead of exporting it. */
  importedMemory?: { module: string, name: string, min: number, max?: number }
}

/**
 * Compiles and checks a Proxy-Wasm module once: a valid binary, an ABI
 * version marker, an allocator, a memory, and imports and callbacks whose
 * names and signatures the host knows.
 */
export async function compileModule (bytes: Uint8Array): Promise<CompiledModule> {
  if (bytes.length === 0) throw new ModuleError('the module is empty (0 bytes)', 'not-wasm')
  if (bytes.length < 8 || bytes[0] !== 0 || bytes[1] !== 0x61 || bytes[2] !== 0x73 || bytes[3] !== 0x6d) {
    throw new ModuleError('not a WebAssembly module (no \\0asm header)', 'not-wasm')
  }
  let module: WasmModule
  try {
    module = await WA.compile(bytes)
  } catch (err) {
    throw new ModuleError(`not a valid WebAssembly module: ${(err as Error).message}`, 'not-wasm')
  }
  let info: ModuleInfo
  try {
    info = readModuleInfo(bytes)
  } catch (err) {
    if (err instanceof BytecodeError) throw new ModuleError(`not a valid WebAssembly module: ${err.message}`, 'not-wasm')
    throw err
  }

  const marker = info.exports.find(e => e.kind === 'function' && e.name in ABI_MARKERS)
  if (marker === undefined) {
    throw new ModuleError('the module exports no Proxy-Wasm ABI version (expected one of proxy_abi_version_0_1_0, proxy_abi_version_0_2_0, proxy_abi_version_0_2_1)', 'no-abi')
  }
  const abi = ABI_MARKERS[marker.name]

  const exported = new Map(info.exports.map(e => [e.name, e]))
  const callbacks = callbackSignatures(abi)
  for (const e of info.exports) {
    const want = callbacks[e.name]
    if (want === undefined || e.kind !== 'function' || e.signature === undefined) continue
    if (e.signature !== want) {
      throw new ModuleError(`export ${e.name} has signature ${describeSignature(e.signature)}, ABI ${abi} expects ${describeSignature(want)}`, 'export')
    }
  }
  const allocator = exported.get('malloc') ?? exported.get('proxy_on_memory_allocate')
  if (allocator === undefined || allocator.kind !== 'function') {
    throw new ModuleError('the module exports no allocator (expected malloc or proxy_on_memory_allocate)', 'no-allocator')
  }

  const env = envImportSignatures(abi)
  let importedMemory: CompiledModule['importedMemory']
  for (const imp of info.imports) {
    const where = `${imp.module}.${imp.name}`
    if (imp.kind === 'memory') {
      importedMemory = { module: imp.module, name: imp.name, min: imp.limits?.min ?? 0, max: imp.limits?.max }
      continue
    }
    if (imp.kind !== 'function') {
      throw new ModuleError(`missing import ${where}: the host provides no ${imp.kind} imports`, 'import')
    }
    let want: string | undefined
    if (imp.module === 'env') want = env[imp.name]
    else if ((WASI_MODULES as readonly string[]).includes(imp.module)) want = WASI_SIGNATURES[imp.name]
    if (want === undefined) {
      const other = imp.module === 'env' && Object.values(ABI_MARKERS).find(v => v !== abi && envImportSignatures(v)[imp.name] !== undefined)
      const hint = other ? ` (it belongs to ABI ${other}; this module declares ABI ${abi})` : ''
      throw new ModuleError(`missing import ${where}: the host does not provide it${hint}`, 'import')
    }
    if (imp.signature !== undefined && imp.signature !== want) {
      throw new ModuleError(`import ${where} has signature ${describeSignature(imp.signature)}, the host provides ${describeSignature(want)}`, 'import')
    }
  }
  if (importedMemory === undefined && exported.get('memory')?.kind !== 'memory') {
    throw new ModuleError('the module neither exports nor imports a memory', 'memory')
  }

  const sha256 = createHash('sha256').update(bytes).digest('hex')
  return { module, info, abi, sha256, importedMemory }
}
