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

/** What an MproxyError may say besides its code and message, where it is known. */
export interface MproxyErrorDetails {
  /** True when the input itself was wrong (a usage error), false when the system refused. */
  usage?: boolean
  /** The option concerned, as the caller names it: an API or config path, or a flag. */
  option?: string
  /** The operating system's error number (positive, as the OS gives it; Node's own errors carry libuv's negative numbers). */
  errno?: number
  /** What was asked of the system: `bind`, `open`, `sendto`, ... */
  syscall?: string
  /** The address or path concerned. */
  address?: string
}

/**
 * One error class for everything mproxy reports. `code` is stable; `message` is one line
 * naming the option (or flag) and what was wrong with it. `option`, `errno`, `syscall` and
 * `address` are there where they are known.
 */
export class MproxyError extends Error {
  /** What went wrong, as a stable code to branch on. */
  readonly code: MproxyErrorCode
  /** True when the input itself was wrong (a usage error), false when the system refused. */
  readonly usage: boolean
  /** The option concerned, as the caller names it (an API or config path, or a flag). */
  readonly option?: string
  /** The operating system's error number, where the system refused something. */
  readonly errno?: number
  /** What was asked of the system (`bind`, `open`, `sendto`, ...). */
  readonly syscall?: string
  /** The address or path concerned. */
  readonly address?: string

  constructor(code: MproxyErrorCode, message: string, details: boolean | MproxyErrorDetails = false) {
    super(message)
    const { usage = false, option, errno, syscall, address } = typeof details === 'boolean' ? { usage: details } : details
    this.name = 'MproxyError'
    this.code = code
    this.usage = usage
    if (option !== undefined) this.option = option
    if (errno !== undefined) this.errno = errno
    if (syscall !== undefined) this.syscall = syscall
    if (address !== undefined) this.address = address
  }
}

/** @internal */
export function usageError(message: string): MproxyError {
  return new MproxyError('EMPROXY_INVALID_ARGUMENT', message, true)
}

function isCode(text: unknown): text is MproxyErrorCode {
  return typeof text === 'string' && (CODES as readonly string[]).includes(text)
}

/** The fields the binding sets on the errors it throws (crates/mproxy-binding/src/errors.rs). */
interface NativeErrorFields {
  code?: unknown
  option?: unknown
  errno?: unknown
  syscall?: unknown
  address?: unknown
}

/**
 * Node-API's own statuses, the `code` of an error napi-rs raised before our code ran (an
 * option object of the wrong shape): a defect of this package, not the user's doing.
 */
const NAPI_STATUSES = new Set([
  'InvalidArg',
  'ObjectExpected',
  'StringExpected',
  'NameExpected',
  'FunctionExpected',
  'NumberExpected',
  'BooleanExpected',
  'ArrayExpected',
  'GenericFailure',
  'PendingException',
  'Cancelled',
  'EscapeCalledTwice',
  'HandleScopeMismatch',
  'CallbackScopeMismatch',
  'QueueFull',
  'Closing',
  'BigintExpected',
  'DateExpected',
  'ArrayBufferExpected',
  'DetachableArraybufferExpected',
  'WouldDeadlock',
  'NoExternalBuffersAllowed',
  'Unknown',
])

/**
 * @internal The binding throws Errors whose `code` is an `EMPROXY_*` code, with `option`,
 * `errno`, `syscall` and `address` where known; this makes one an MproxyError. `context`, the
 * option the error is about as the caller names it, is put in front of the message (and is
 * its `option` when the binding names none); `name` writes an option's API name as the caller
 * names it.
 */
export function fromNative(err: unknown, context?: string, name: (option: string) => string = (o) => o): MproxyError {
  if (err instanceof MproxyError) return context ? new MproxyError(err.code, `${context}: ${err.message}`, err) : err
  const fields: NativeErrorFields = typeof err === 'object' && err !== null ? (err as NativeErrorFields) : {}
  const code: MproxyErrorCode = isCode(fields.code) ? fields.code : NAPI_STATUSES.has(String(fields.code)) ? 'EMPROXY_INTERNAL' : 'EMPROXY_IO'
  const message = err instanceof Error ? err.message : String(err)
  const text = (value: unknown) => (typeof value === 'string' ? value : undefined)
  const option = text(fields.option)
  return new MproxyError(code, context ? `${context}: ${message}` : message, {
    usage: code === 'EMPROXY_INVALID_ARGUMENT',
    option: option === undefined ? context : name(option),
    errno: typeof fields.errno === 'number' ? fields.errno : undefined,
    syscall: text(fields.syscall),
    address: text(fields.address),
  })
}
