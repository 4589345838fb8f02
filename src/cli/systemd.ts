/**
 * systemd's `Type=notify`: `READY=1` once every route is up, `RELOADING=1` and `READY=1`
 * around a reload, `STOPPING=1` on the way out. Sent to `NOTIFY_SOCKET` (a unix datagram
 * socket, which Node cannot send to) by the addon; nothing happens when it is not set.
 */
import { fromNative } from '../errors'
import { native } from '../native'

let warned = false

/** Tells systemd `state`; a failure is reported once through `warn` and never stops the program. */
export function notifySystemd(state: 'READY=1' | 'RELOADING=1' | 'STOPPING=1', warn: (message: string) => void): void {
  const socket = process.env.NOTIFY_SOCKET
  if (!socket) return
  try {
    native().notifyServiceManager(socket, state)
  } catch (err) {
    if (warned) return
    warned = true
    warn(`${fromNative(err).message} (NOTIFY_SOCKET; telling systemd ${state} and later states failed)`)
  }
}
