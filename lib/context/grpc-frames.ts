/**
 * gRPC's length-prefixed messages: a 1-byte compressed flag, a 4-byte
 * big-endian length, then the bytes. Messages are opaque to the host.
 */

const PREFIX = 5

/** One uncompressed message, framed. */
export function frame (message: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(PREFIX + message.length)
  out[0] = 0
  out.writeUInt32BE(message.length, 1)
  out.set(message, PREFIX)
  return out
}

/** Why the peer's bytes cannot be read as messages. */
export class FrameError extends Error {
  constructor (message: string, readonly tooLarge = false) {
    super(message)
  }
}

/**
 * Reassembles messages from DATA chunks: a message may span chunks, a chunk
 * may hold several messages. Compressed messages are refused (the host never
 * offers an encoding), as are messages over `limit` bytes.
 */
export class Deframer {
  private chunks: Buffer[] = []
  private buffered = 0

  constructor (private readonly limit: number) {}

  /** Adds a chunk; returns the messages it completes. Throws FrameError. */
  push (chunk: Buffer): Buffer[] {
    this.chunks.push(chunk)
    this.buffered += chunk.length
    const out: Buffer[] = []
    while (this.buffered >= PREFIX) {
      const head = this.peek(PREFIX)
      if (head[0] !== 0) throw new FrameError(head[0] === 1 ? 'a compressed message (no encoding was offered)' : `an invalid compressed flag ${head[0]}`)
      const length = head.readUInt32BE(1)
      if (length > this.limit) throw new FrameError(`a ${length}-byte message, over the ${this.limit}-byte limit`, true)
      if (this.buffered < PREFIX + length) break
      out.push(this.take(PREFIX + length).subarray(PREFIX))
    }
    return out
  }

  /** Bytes of a message not yet complete. */
  get pending (): number {
    return this.buffered
  }

  private peek (n: number): Buffer {
    if (this.chunks[0].length < n) this.chunks = [Buffer.concat(this.chunks)]
    return this.chunks[0].subarray(0, n)
  }

  private take (n: number): Buffer {
    if (this.chunks[0].length < n) this.chunks = [Buffer.concat(this.chunks)]
    const first = this.chunks[0]
    const out = first.subarray(0, n)
    if (first.length === n) this.chunks.shift()
    else this.chunks[0] = first.subarray(n)
    this.buffered -= n
    return out
  }
}
