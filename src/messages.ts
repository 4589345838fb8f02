/**
 * `handle.messages()`: every datagram a route carries, as an async iterator.
 *
 * The native tap queues datagrams in Rust, bounded by `highWaterMark`; this side takes the
 * whole queue in one call (one Buffer, the lengths, who sent each) and hands out views into
 * it one datagram at a time. When the queue is empty it waits for the tap's one wake call,
 * so data crosses into JavaScript at most once per batch, never once per datagram. When
 * JavaScript falls behind, the tap drops in Rust and counts (`tapDrops`); nothing waits.
 */
import type { NativeRoute, NativeTap } from './native'
import { usageError } from './errors'

/** One datagram a tap saw. */
export interface Message {
  /**
   * The datagram's bytes. A view into memory shared with the datagrams taken at the same
   * time: copy it (`Buffer.from(data)`) to keep it long after.
   */
  data: Buffer
  /**
   * Who sent it: `HOST:PORT` (`[IPv6]:PORT`) of the UDP sender or TCP peer; the input's path
   * (or `stdin`) for what a client reads from a file; `js` for datagrams given to `send()`.
   * A reverse proxy's outputs receive from the group: there it is the socket that published
   * the datagram into the group (a reverse proxy's inputs), not the original sender.
   */
  from: string
}

/** Options of `handle.messages()`. */
export interface MessagesOptions {
  /**
   * Most datagrams held for this iterator while JavaScript is busy; beyond it (or 64 MiB)
   * datagrams are dropped and counted in `tapDrops`. Default 16384.
   */
  highWaterMark?: number
  /** Aborting it detaches the tap: the loop ends (no error), like `break`. */
  signal?: AbortSignal
}

/** Datagrams a tap holds by default. */
export const DEFAULT_HIGH_WATER_MARK = 16_384
const MAX_HIGH_WATER_MARK = 16_777_216

const DONE: IteratorReturnResult<undefined> = Object.freeze({ value: undefined, done: true })

/** @internal Checks `messages()`'s options, with messages naming them. */
export function messagesOptions(options: MessagesOptions | undefined): { highWaterMark: number; signal?: AbortSignal } {
  if (options === undefined) return { highWaterMark: DEFAULT_HIGH_WATER_MARK }
  if (typeof options !== 'object' || options === null) throw usageError('messages(): options must be an object')
  for (const key of Object.keys(options)) {
    if (key !== 'highWaterMark' && key !== 'signal') throw usageError(`messages(): ${key} is not an option (highWaterMark, signal)`)
  }
  const { highWaterMark = DEFAULT_HIGH_WATER_MARK, signal } = options
  if (!Number.isInteger(highWaterMark) || highWaterMark < 1 || highWaterMark > MAX_HIGH_WATER_MARK) {
    throw usageError(`messages(): highWaterMark: ${String(highWaterMark)} is not a whole number of datagrams from 1 to ${MAX_HIGH_WATER_MARK}`)
  }
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw usageError('messages(): signal must be an AbortSignal')
  return { highWaterMark, signal }
}

/** @internal The iterator `handle.messages()` returns. */
export class MessageIterator implements AsyncIterableIterator<Message> {
  #tap: NativeTap | undefined
  #data: Buffer | undefined
  #lengths: Uint32Array | undefined
  #sources: string[] | undefined
  #sourceOf: Uint32Array | undefined
  #index = 0
  #offset = 0
  #waiters: Array<() => void> = []
  #signal: AbortSignal | undefined
  /** The tap's drops when it was detached. */
  #drops = 0
  readonly #onAbort = () => this.#end()

  /** `route` undefined: an iterator that has already ended (a closed handle). */
  constructor(route: NativeRoute | undefined, highWaterMark: number, signal?: AbortSignal) {
    if (!route || signal?.aborted) return
    this.#tap = route.openTap(highWaterMark, () => this.#wake())
    if (signal) {
      this.#signal = signal
      signal.addEventListener('abort', this.#onAbort, { once: true })
    }
  }

  [Symbol.asyncIterator](): this {
    return this
  }

  /** Datagrams this iterator's tap dropped because its queue was full. */
  get drops(): number {
    return this.#tap?.drops ?? this.#drops
  }

  next(): Promise<IteratorResult<Message, undefined>> {
    const message = this.#shift()
    if (message) return Promise.resolve({ value: message, done: false })
    return this.#pull()
  }

  /** `break` out of a for-await loop: detaches the tap. */
  return(): Promise<IteratorResult<Message, undefined>> {
    this.#end()
    return Promise.resolve(DONE)
  }

  #shift(): Message | undefined {
    const lengths = this.#lengths
    if (!lengths || this.#index >= lengths.length) return undefined
    const i = this.#index++
    const start = this.#offset
    this.#offset = start + lengths[i]
    return { data: this.#data!.subarray(start, this.#offset), from: this.#sources![this.#sourceOf![i]] }
  }

  async #pull(): Promise<IteratorResult<Message, undefined>> {
    for (;;) {
      const tap = this.#tap
      if (!tap) return DONE
      const chunk = tap.take()
      if (!chunk) {
        await new Promise<void>((resolve) => this.#waiters.push(resolve))
        continue
      }
      if (chunk.ended) {
        this.#end()
        return DONE
      }
      this.#data = chunk.data!
      this.#lengths = chunk.lengths!
      this.#sources = chunk.sources!
      this.#sourceOf = chunk.sourceOf!
      this.#index = 0
      this.#offset = 0
      const message = this.#shift()
      if (message) return { value: message, done: false }
    }
  }

  #wake(): void {
    const waiters = this.#waiters
    this.#waiters = []
    for (const resolve of waiters) resolve()
  }

  #end(): void {
    const tap = this.#tap
    if (!tap) return
    this.#tap = undefined
    tap.close()
    this.#drops = tap.drops
    this.#data = this.#lengths = this.#sources = this.#sourceOf = undefined
    this.#signal?.removeEventListener('abort', this.#onAbort)
    this.#signal = undefined
    this.#wake()
  }
}
