/**
 * `handle.send()`: datagrams from JavaScript into a route, delivered to its outputs as if a
 * socket had received them.
 *
 * Each `send()` call is one native call with one Buffer (the datagrams back to back) and
 * their lengths; the route queues them as one batch and a thread of its own delivers it.
 * The queue is bounded: when it is full, `send()` waits for the route's "room" call and
 * offers the batch again, and later calls wait behind it, so datagrams keep their order and
 * nothing is dropped.
 */
import { fromNative, usageError } from './errors'
import type { NativeRoute } from './native'

/** What `send()` takes: one datagram (bytes, or text sent as UTF-8) or several. */
export type Datagrams = Uint8Array | string | ReadonlyArray<Uint8Array | string>

function bytesOf(item: unknown, where: string): Buffer {
  if (typeof item === 'string') return Buffer.from(item)
  if (Buffer.isBuffer(item)) return item
  if (item instanceof Uint8Array) return Buffer.from(item.buffer, item.byteOffset, item.byteLength)
  throw usageError(`send(): ${where} is not a Buffer or a string`)
}

/** One datagram or an array of them, as one Buffer and the length of each. */
function pack(data: Datagrams): { bytes: Buffer; lengths: Uint32Array } {
  if (!Array.isArray(data)) {
    const bytes = bytesOf(data, 'data')
    return { bytes, lengths: Uint32Array.of(bytes.length) }
  }
  const parts = data.map((item, i) => bytesOf(item, `data[${i}]`))
  const lengths = new Uint32Array(parts.length)
  for (let i = 0; i < parts.length; i++) lengths[i] = parts[i].length
  return { bytes: parts.length === 1 ? parts[0] : Buffer.concat(parts), lengths }
}

/** @internal The sending side of one route. */
export class Sender {
  readonly #route: NativeRoute
  #opened = false
  /** The last send() still waiting for room; later ones wait behind it. */
  #tail: Promise<void> | undefined
  #roomWaiters: Array<() => void> = []

  constructor(route: NativeRoute) {
    this.#route = route
  }

  send(data: Datagrams): Promise<void> {
    let packed: { bytes: Buffer; lengths: Uint32Array }
    try {
      packed = pack(data)
      if (!this.#opened) {
        this.#route.openInjector(() => this.#room())
        this.#opened = true
      }
      if (packed.lengths.length === 0) return this.#tail ?? Promise.resolve()
      if (!this.#tail && this.#route.inject(packed.bytes, packed.lengths)) return Promise.resolve()
    } catch (err) {
      return Promise.reject(fromNative(err))
    }
    const previous = this.#tail ?? Promise.resolve()
    const mine = previous.then(() => this.#offer(packed.bytes, packed.lengths))
    const tail = mine.catch(() => undefined)
    this.#tail = tail
    void tail.then(() => {
      if (this.#tail === tail) this.#tail = undefined
    })
    return mine
  }

  async #offer(bytes: Buffer, lengths: Uint32Array): Promise<void> {
    for (;;) {
      try {
        if (this.#route.inject(bytes, lengths)) return
      } catch (err) {
        throw fromNative(err)
      }
      await new Promise<void>((resolve) => this.#roomWaiters.push(resolve))
    }
  }

  #room(): void {
    const waiters = this.#roomWaiters
    this.#roomWaiters = []
    for (const resolve of waiters) resolve()
  }
}
