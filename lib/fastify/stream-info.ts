import type { FastifyRequest } from 'fastify'
import type { Socket } from 'node:net'
import type { TLSSocket } from 'node:tls'
import type { StreamInfo } from '../context/stream-info'
import { realtimeNs } from '../host/time'

// Connection ids, per socket, for the connection.id attribute.
const connectionIds = new WeakMap<object, number>()
let nextConnectionId = 1

/** Request facts for filter properties, read from Node's request and socket. */
export class FastifyStreamInfo implements StreamInfo {
  // A double now; the BigInt only if a filter asks for request.time.
  private readonly startMs = performance.now()
  requestBodySize = 0
  responseBodySize = 0

  constructor (private readonly request: FastifyRequest) {}

  get startTimeNs (): bigint {
    return realtimeNs() - BigInt(Math.round((performance.now() - this.startMs) * 1e6))
  }

  private get socket (): Socket | undefined {
    return this.request.raw.socket as Socket | undefined
  }

  get protocol (): string {
    const v = this.request.raw.httpVersion
    return v === '2.0' ? 'HTTP/2' : `HTTP/${v}`
  }

  get requestId (): string {
    return String(this.request.id)
  }

  get sourceAddress (): string | undefined {
    return this.socket?.remoteAddress
  }

  get sourcePort (): number | undefined {
    return this.socket?.remotePort
  }

  get destinationAddress (): string | undefined {
    return this.socket?.localAddress
  }

  get destinationPort (): number | undefined {
    return this.socket?.localPort
  }

  get connectionId (): number | undefined {
    const s = this.socket
    if (s === undefined || s === null) return undefined
    let id = connectionIds.get(s)
    if (id === undefined) {
      id = nextConnectionId++
      connectionIds.set(s, id)
    }
    return id
  }

  private get tls (): TLSSocket | undefined {
    const s = this.socket as TLSSocket | undefined
    return s?.encrypted === true ? s : undefined
  }

  get tlsVersion (): string | undefined {
    return this.tls?.getProtocol() ?? undefined
  }

  get sni (): string | undefined {
    const name = (this.tls as { servername?: string | false } | undefined)?.servername
    return typeof name === 'string' ? name : undefined
  }

  get mtls (): boolean {
    const tls = this.tls
    if (tls === undefined) return false
    const cert = tls.getPeerCertificate()
    return cert !== null && Object.keys(cert).length > 0
  }
}
