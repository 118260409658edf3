import type { LogLevel } from '../abi/enums'
import type { LogSink } from '../host/types'

/** The part of a pino logger the host uses (Fastify's loggers are pino). */
export interface PinoLike {
  level: string
  trace: (obj: object, msg: string) => void
  debug: (obj: object, msg: string) => void
  info: (obj: object, msg: string) => void
  warn: (obj: object, msg: string) => void
  error: (obj: object, msg: string) => void
  fatal: (obj: object, msg: string) => void
}

// Proxy-Wasm trace..critical map to pino trace..fatal.
const METHODS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const
const PINO_VALUES: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity }

/** The lowest Proxy-Wasm level a pino level lets through (6 = nothing). */
export function proxyLevelOf (pinoLevel: string): number {
  const v = PINO_VALUES[pinoLevel] ?? 30
  if (v === Infinity) return 6
  for (let i = 0; i < METHODS.length; i++) if (PINO_VALUES[METHODS[i]] >= v) return i
  return 6
}

/** Whether a Proxy-Wasm level is written by a logger at `pinoLevel`. */
function enabledAt (pinoLevel: string, level: LogLevel): boolean {
  return PINO_VALUES[METHODS[level]] >= (PINO_VALUES[pinoLevel] ?? 30)
}

/**
 * Writes a filter's logs through a pino logger: the filter's text is the
 * message; the filter name and context id are fields.
 */
export class PinoSink implements LogSink {
  private fields: { filter: string, context: number } | undefined

  constructor (private readonly logger: PinoLike, private readonly filter: string, private readonly contextId: number) {}

  enabled (level: LogLevel): boolean {
    return enabledAt(this.logger.level, level)
  }

  write (level: LogLevel, message: string): void {
    this.fields ??= { filter: this.filter, context: this.contextId }
    this.logger[METHODS[level] ?? 'info'](this.fields, message)
  }

  level (): number {
    return proxyLevelOf(this.logger.level)
  }
}
