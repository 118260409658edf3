import type { HeaderMap } from '../abi/header-map'
import { ChunkBuffer } from './chunks'

/** What the filter at the head of the headers is doing with them. */
export enum Held {
  None,
  /** StopIteration: headers wait here, but body data still reaches this filter. */
  Stop,
  /** StopAllIteration*: headers and body wait here until the filter continues. */
  StopAll
}

/** A callback's verdict, as the direction needs it. */
export const DIVERTED = -1

/**
 * What a direction needs from its stream: run one filter's callback, and
 * take what comes out of the chain. A callback answers the filter's status,
 * 0 (Continue) for a filter that is bypassed or lacks the callback, or
 * DIVERTED when the stream has been answered another way (local reply,
 * reset, fail-closed): the direction then stops.
 */
export interface DirectionDriver {
  headers (position: number, count: number, endOfStream: boolean): number
  data (position: number, size: number, endOfStream: boolean): number
  trailers (position: number, count: number): number
  /** Whether the filter at `position` takes body data (else data passes untouched). */
  wantsData (position: number): boolean
  /** Whether StopIteration from this filter's headers still lets body data in (allow_on_headers_stop_iteration). */
  letsDataIn (position: number): boolean
  wantsTrailers (position: number): boolean
  /** A filter buffered more than the limit. */
  overLimit (position: number): void
  /** The headers passed every filter. */
  released (): void
  /** Data that passed every filter. */
  emit (chunks: Buffer[]): void
  /** End of stream passed every filter (with trailers, if any). */
  end (trailers: HeaderMap | undefined): void
}

/**
 * One direction (request or response) of a stream through a filter chain,
 * with Envoy's semantics: headers go through the filters in order and may
 * be held by one; body data reaches each filter only after its headers,
 * is buffered where a filter says StopIterationAndBuffer (the next call
 * reports the whole buffered size), dropped on StopIterationNoBuffer, and
 * passed on with Continue; trailers follow the data.
 */
const NONE: unknown[] = []

export class Direction {
  /** Position of the first filter the headers have not passed. */
  pos = 0
  held = Held.None
  started = false
  dead = false
  private headersEos = false
  private releasedSent = false
  private endSent = false
  // Per-position body state, allocated when the first body byte (or end) arrives:
  // most requests have none.
  private bufs: ChunkBuffer[] = NONE as ChunkBuffer[]
  private fresh: boolean[] = NONE as boolean[]
  private ended: boolean[] = NONE as boolean[]
  private hasBody = false
  private trailerMap: HeaderMap | undefined
  /** Position the trailers have reached (n = passed every filter); -1: none. */
  private trailersAt = -1
  private trailersCalled = -1
  private pumping = false
  private again = false
  /** Set by continue_stream during the filter's own callback. */
  continued = false

  constructor (readonly n: number, private readonly driver: DirectionDriver, private readonly limit: number) {}

  private body (): void {
    if (this.hasBody) return
    this.hasBody = true
    const n = this.n
    this.bufs = Array.from({ length: n + 1 }, () => new ChunkBuffer())
    this.fresh = new Array(n + 1).fill(false)
    this.ended = new Array(n + 1).fill(false)
  }

  get released (): boolean {
    return this.pos >= this.n
  }

  get finished (): boolean {
    return this.endSent
  }

  /** The body waiting at a filter (what get/set_buffer_bytes act on). */
  bufferAt (position: number): ChunkBuffer {
    this.body()
    return this.bufs[position]
  }

  get trailers (): HeaderMap | undefined {
    return this.trailerMap
  }

  /** Creates the trailers the filter at `position` adds at the last body chunk. */
  ensureTrailers (position: number, make: () => HeaderMap): HeaderMap {
    this.body()
    if (this.trailerMap === undefined) {
      this.trailerMap = make()
      // They start at this filter, which has seen them.
      this.trailersAt = position
      this.trailersCalled = position
    }
    return this.trailerMap
  }

  start (endOfStream: boolean): void {
    this.started = true
    // No body at all: the end travels with the headers.
    this.headersEos = endOfStream
    this.pump()
  }

  data (chunk: Buffer, endOfStream: boolean): void {
    if (this.dead || this.headersEos) return
    this.body()
    if (this.ended[0]) return
    this.bufs[0].append(chunk)
    this.fresh[0] = true
    if (endOfStream) this.ended[0] = true
    this.pump()
  }

  /** End of body, with trailers if the peer sent some. */
  finish (trailers: HeaderMap | undefined): void {
    if (this.dead || this.headersEos) return
    this.body()
    if (this.ended[0]) return
    this.ended[0] = true
    this.fresh[0] = true
    if (trailers !== undefined && trailers.size > 0) {
      this.trailerMap = trailers
      this.trailersAt = 0
    }
    this.pump()
  }

  /** continue_stream from the filter at `position` (outside its own callback). */
  resume (position: number): void {
    if (this.dead) return
    const heldAll = position === this.pos && this.held === Held.StopAll
    if (position === this.pos && this.held !== Held.None) {
      this.held = Held.None
      this.pos++
    }
    // After StopAll the filter has not seen the body yet: it gets it now.
    // Otherwise what it buffered goes on.
    if (!heldAll && position < this.pos && this.hasBody) this.passOn(position)
    this.pump()
  }

  stop (): void {
    this.dead = true
    if (this.hasBody) for (const b of this.bufs) b.clear()
  }

  /** Moves what waits at `p` (data, end, and trailers the filter has seen) to the next filter. */
  private passOn (p: number): void {
    this.passData(p)
    if (this.trailersAt === p && this.trailersCalled >= p) this.trailersAt = p + 1
  }

  private passData (p: number): void {
    if (p >= this.n) return
    const chunks = this.bufs[p].take()
    for (const c of chunks) this.bufs[p + 1].append(c)
    if (chunks.length > 0) this.fresh[p + 1] = true
    if (this.ended[p] && !this.ended[p + 1]) {
      this.ended[p + 1] = true
      this.fresh[p + 1] = true
    }
  }

  /** Headers held at `p` with StopIteration go on when the filter continues its body. */
  private releaseAt (p: number): boolean {
    if (p !== this.pos || this.held !== Held.Stop) return false
    this.held = Held.None
    this.pos++
    return true
  }

  /** Runs callbacks until nothing can move. Re-entrant calls run once more at the end. */
  pump (): void {
    if (this.pumping) {
      this.again = true
      return
    }
    this.pumping = true
    try {
      do {
        this.again = false
        this.step()
      } while (this.again && !this.dead)
    } finally {
      this.pumping = false
    }
  }

  private takeContinue (): boolean {
    const c = this.continued
    this.continued = false
    return c
  }

  private step (): void {
    const d = this.driver
    const n = this.n
    if (this.dead || !this.started) return
    // Headers first: nothing may overtake them.
    while (this.pos < n && this.held === Held.None) {
      const p = this.pos
      const r = d.headers(p, 0, this.headersEos)
      if (r === DIVERTED) return this.stop()
      if (r === 0 || this.takeContinue()) {
        this.pos++
      } else {
        this.held = r === 1 && d.letsDataIn(p) ? Held.Stop : Held.StopAll
      }
    }
    if (this.pos >= n && !this.releasedSent) {
      this.releasedSent = true
      d.released()
      if (this.dead) return
    }
    if (!this.hasBody) {
      if (this.headersEos && this.pos >= n && !this.endSent) {
        this.endSent = true
        d.end(undefined)
      }
      return
    }
    for (let p = 0; p < n; p++) {
      if (p > this.pos) break
      if (p === this.pos && this.held === Held.StopAll) {
        // Held without callbacks: the host buffers, up to the limit.
        if (this.bufs[p].length > this.limit) {
          d.overLimit(p)
          return this.stop()
        }
        break
      }
      if (this.fresh[p]) {
        this.fresh[p] = false
        const eos = this.ended[p] && this.trailerMap === undefined
        const size = this.bufs[p].length
        if (size > 0 || eos) {
          let r = 0
          if (d.wantsData(p)) {
            r = d.data(p, size, eos)
            if (r === DIVERTED) return this.stop()
            if (this.takeContinue()) r = 0
          }
          if (r === 0) {
            const released = this.releaseAt(p)
            this.passOn(p)
            if (released) {
              this.again = true
              return
            }
          } else if (r >= 3) {
            // StopIterationNoBuffer: the filter took what it wanted; the rest is dropped.
            this.bufs[p].clear()
          } else if (this.bufs[p].length > this.limit) {
            d.overLimit(p)
            return this.stop()
          }
        } else if (this.ended[p]) {
          this.passOn(p)
        }
      }
      if (this.trailerMap !== undefined && this.trailersAt === p && this.ended[p] && this.trailersCalled < p) {
        this.trailersCalled = p
        let r = 0
        if (d.wantsTrailers(p)) {
          r = d.trailers(p, this.trailerMap.size)
          if (r === DIVERTED) return this.stop()
          if (this.takeContinue()) r = 0
        }
        if (r === 0) {
          const released = this.releaseAt(p)
          this.passOn(p)
          if (released) {
            this.again = true
            return
          }
        }
      }
    }
    // Past the last filter: out to the client, the route or the upstream.
    if (this.pos >= n) {
      const out = this.bufs[n]
      if (out.length > 0) d.emit(out.take())
      if (this.ended[n] && !this.endSent) {
        this.endSent = true
        d.end(this.trailerMap)
      }
    }
  }
}
