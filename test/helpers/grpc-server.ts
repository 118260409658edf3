import { once } from 'node:events'
import { createServer, type IncomingHttpHeaders, type OutgoingHttpHeaders, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2'
import type { AddressInfo } from 'node:net'

/** One gRPC request as the test server sees it. */
export interface ServerCall {
  path: string
  headers: IncomingHttpHeaders
  /** [name, value, ...] as received. */
  rawHeaders: string[]
  stream: ServerHttp2Stream
  /** The client's messages so far, unframed. */
  messages: Buffer[]
  /** The client half-closed. */
  ended: boolean
  /** The stream closed; its RST_STREAM code (0 when it ended normally). */
  closed: number | undefined
  /** Called for each client message. */
  onMessage?: (message: Buffer) => void
  /** Called when the client half-closes. */
  onEnd?: () => void
}

/** A length-prefixed gRPC message. */
export function frame (message: string | Buffer): Buffer {
  const bytes = Buffer.from(message)
  const head = Buffer.alloc(5)
  head.writeUInt32BE(bytes.length, 1)
  return Buffer.concat([head, bytes])
}

/** Response headers, holding the stream open for trailers. */
export function respond (call: ServerCall, metadata: OutgoingHttpHeaders = {}): void {
  call.stream.respond({ ':status': 200, 'content-type': 'application/grpc', ...metadata }, { waitForTrailers: true })
}

/** Ends a response with grpc-status (and grpc-message) in the trailers. */
export function finish (call: ServerCall, status: number, message?: string, trailers: OutgoingHttpHeaders = {}): void {
  const s = call.stream
  if (!s.headersSent) respond(call)
  s.once('wantTrailers', () => {
    s.sendTrailers({ 'grpc-status': String(status), ...(message === undefined ? {} : { 'grpc-message': message }), ...trailers })
  })
  s.end()
}

/** A trailers-only answer: status (and message) in the only HEADERS frame. */
export function trailersOnly (call: ServerCall, status: number, message?: string): void {
  call.stream.respond({
    ':status': 200,
    'content-type': 'application/grpc',
    'grpc-status': String(status),
    ...(message === undefined ? {} : { 'grpc-message': message })
  }, { endStream: true })
}

/**
 * A gRPC server over h2c on 127.0.0.1 built on node:http2 alone: it
 * unframes what the client sends and hands each call to `handler`.
 */
export async function grpcServer (t: { teardown: (fn: () => unknown) => void }, handler: (call: ServerCall) => void) {
  const calls: ServerCall[] = []
  const sessions = new Set<ServerHttp2Session>()
  let sessionCount = 0
  const server = createServer()
  server.on('session', s => {
    sessionCount++
    sessions.add(s)
    s.on('close', () => sessions.delete(s))
  })
  server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, _flags: number, rawHeaders: unknown) => {
    const call: ServerCall = {
      path: String(headers[':path']),
      headers,
      rawHeaders: rawHeaders as unknown as string[],
      stream,
      messages: [],
      ended: false,
      closed: undefined
    }
    calls.push(call)
    let pending = Buffer.alloc(0)
    stream.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk])
      while (pending.length >= 5 && pending.length >= 5 + pending.readUInt32BE(1)) {
        const m = pending.subarray(5, 5 + pending.readUInt32BE(1))
        pending = pending.subarray(5 + m.length)
        call.messages.push(m)
        call.onMessage?.(m)
      }
    })
    stream.on('end', () => {
      call.ended = true
      call.onEnd?.()
    })
    stream.on('error', () => {})
    stream.on('close', () => { call.closed = stream.rstCode })
    handler(call)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => {
    for (const s of sessions) s.destroy()
    server.close()
  })
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    server,
    sessions,
    get sessionCount () { return sessionCount }
  }
}
