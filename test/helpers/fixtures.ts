import { join } from 'node:path'

export const FIXTURES = join(__dirname, '..', '..', 'fixtures')

/** Path of a built WAT fixture: fixtures/wasm/<name>.wasm. */
export function wat (name: string): string {
  return join(FIXTURES, 'wasm', `${name}.wasm`)
}

/** Path of a built AssemblyScript fixture: fixtures/wasm/as-<name>.wasm. */
export function as (name: string): string {
  return join(FIXTURES, 'wasm', `as-${name}.wasm`)
}

export function rust (name: string): string {
  return join(FIXTURES, 'wasm', `rust-${name}.wasm`)
}

export function c (name: string): string {
  return join(FIXTURES, 'wasm', `c-${name}.wasm`)
}
