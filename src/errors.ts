/**
 * Every stable error code. The first seven come from the Rust core (`ErrorKind::code()` in
 * crates/mproxy-core/src/error.rs); the others from the TypeScript layer.
 */
export type MproxyErrorCode =
  /** A value was malformed, out of range or contradicts another: a usage error. */
  | 'EMPROXY_INVALID_ARGUMENT'
  /** A port is already bound by another socket. */
  | 'EMPROXY_ADDRESS_IN_USE'
  /** The address cannot be bound on this host (not one of its addresses). */
  | 'EMPROXY_ADDRESS_NOT_AVAILABLE'
  /** No route to a destination, or no interface to join a group on. */
  | 'EMPROXY_NO_ROUTE'
  /** A named interface does not exist. */
  | 'EMPROXY_NO_SUCH_INTERFACE'
  /** A file or device could not be opened or read. */
  | 'EMPROXY_FILE'
  /** Any other refusal by the operating system. */
  | 'EMPROXY_IO'
  /** A host name does not resolve. */
  | 'EMPROXY_RESOLVE'
  /** The native addon for this platform is missing or does not load. */
  | 'EMPROXY_ADDON'
  /** The `signal` given to create…() was aborted before it had started. */
  | 'EMPROXY_ABORTED'
  /** A bug in mproxy: the native code panicked (caught, so Node goes on); please report it. */
  | 'EMPROXY_INTERNAL'

const CODES: readonly MproxyErrorCode[] = [
  'EMPROXY_INVALID_ARGUMENT',
  'EMPROXY_ADDRESS_IN_USE',
  'EMPROXY_ADDRESS_NOT_AVAILABLE',
  'EMPROXY_NO_ROUTE',
  'EMPROXY_NO_SUCH_INTERFACE',
  'EMPROXY_FILE',
  'EMPROXY_IO',
  'EMPROXY_RESOLVE',
  'EMPROXY_ADDON',
  'EMPROXY_ABORTED',
  'EMPROXY_INTERNAL',
]

/**
 * One error class for everything mproxy reports. `code` is stable; `message` is one line
 * naming the option (or flag) and what was wrong with it.
 */
export class MproxyError extends Error {
  /** What went wrong, as a stable code to branch on. */
  readonly code: MproxyErrorCode
  /** True when the input itself was wrong (a usage error), false when the system refused. */
  readonly usage: boolean

  constructor(code: MproxyErrorCode, message: string, usage = false) {
    super(message)
    this.name = 'MproxyError'
    this.code = code
    this.usage = usage
  }
}

/** @internal */
export function usageError(message: string): MproxyError {
  return new MproxyError('EMPROXY_INVALID_ARGUMENT', message, true)
}

const NATIVE_PREFIX = /^\[(EMPROXY_[A-Z_]+)\] ([\s\S]*)$/

function isCode(text: string): text is MproxyErrorCode {
  return (CODES as readonly string[]).includes(text)
}

/** @internal The binding throws `[CODE] message`; this turns it into an MproxyError. */
export function fromNative(err: unknown, context?: string): MproxyError {
  if (err instanceof MproxyError) return context ? new MproxyError(err.code, `${context}: ${err.message}`, err.usage) : err
  const text = err instanceof Error ? err.message : String(err)
  const match = NATIVE_PREFIX.exec(text)
  const code: MproxyErrorCode = match && isCode(match[1]) ? match[1] : 'EMPROXY_IO'
  const message = match ? match[2] : text
  return new MproxyError(code, context ? `${context}: ${message}` : message, code === 'EMPROXY_INVALID_ARGUMENT')
}
