/**
 * One error class for everything mproxy reports. `code` is stable; `message` is one line
 * naming the option (or flag) and what was wrong with it.
 */
export class MproxyError extends Error {
  readonly code: string
  /** True when the input itself was wrong (a usage error), false when the system refused. */
  readonly usage: boolean

  constructor(code: string, message: string, usage = false) {
    super(message)
    this.name = 'MproxyError'
    this.code = code
    this.usage = usage
  }
}

export function usageError(message: string): MproxyError {
  return new MproxyError('EMPROXY_INVALID_ARGUMENT', message, true)
}

const NATIVE_PREFIX = /^\[(EMPROXY_[A-Z_]+)\] ([\s\S]*)$/

/** The binding throws `[CODE] message`; this turns it into an MproxyError. */
export function fromNative(err: unknown, context?: string): MproxyError {
  const text = err instanceof Error ? err.message : String(err)
  const match = NATIVE_PREFIX.exec(text)
  const code = match ? match[1] : 'EMPROXY_IO'
  const message = match ? match[2] : text
  return new MproxyError(code, context ? `${context}: ${message}` : message, code === 'EMPROXY_INVALID_ARGUMENT')
}
