import { PassThrough, Readable } from 'node:stream'
import { HeaderMap } from '../abi/header-map'

/** Trailers as a header map (rawTrailers keeps duplicates and order). */
export function trailerMap (rawTrailers: string[] | undefined): HeaderMap | undefined {
  // app.inject's requests have no rawTrailers.
  if (rawTrailers === undefined || rawTrailers.length === 0) return undefined
  const flat: string[] = []
  for (let i = 0; i < rawTrailers.length; i += 2) flat.push(rawTrailers[i].toLowerCase(), rawTrailers[i + 1])
  return new HeaderMap(flat)
}

export function trailerObject (map: HeaderMap): Record<string, string> {
  const out: Record<string, string> = {}
  for (let i = 0; i < map.flat.length; i += 2) {
    const name = map.flat[i]
    out[name] = out[name] === undefined ? map.flat[i + 1] : `${out[name]}, ${map.flat[i + 1]}`
  }
  return out
}

/**
 * Where the filtered body goes: a PassThrough the consumer (Fastify's body
 * parser, or the response) reads, with backpressure reaching back to the
 * source through pause/resume.
 */
export class BodySink {
  readonly out = new PassThrough()
  private paused = false

  constructor (private readonly source: { pause: () => unknown, resume: () => unknown }) {
    this.out.on('drain', () => {
      if (this.paused) {
        this.paused = false
        this.source.resume()
      }
    })
  }

  write (chunks: Buffer[]): void {
    let ok = true
    for (const c of chunks) ok = this.out.write(c) && ok
    if (!ok && !this.paused) {
      this.paused = true
      this.source.pause()
    }
  }

  end (): void {
    this.out.end()
  }
}

/** A response payload as a Node stream, if it is one (web streams are converted). */
export function asNodeStream (payload: unknown): Readable | undefined {
  if (payload instanceof Readable) return payload
  if (payload !== null && typeof payload === 'object') {
    if (typeof (payload as { pipe?: unknown }).pipe === 'function' && typeof (payload as { on?: unknown }).on === 'function') {
      return payload as Readable
    }
    if (typeof (payload as { getReader?: unknown }).getReader === 'function') {
      return Readable.fromWeb(payload as import('node:stream/web').ReadableStream)
    }
  }
  return undefined
}
