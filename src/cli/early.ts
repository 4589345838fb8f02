/**
 * The first module every program's entry file loads, before anything slow (the option
 * schemas, the addon): from its first statement on, SIGINT, SIGTERM, SIGHUP and SIGUSR1 are
 * ours. Until the program is ready and takes them over (`takeSignals`), they are kept:
 * a stop is carried out once the routes are up (a second one exits at once, code 1), a
 * SIGHUP reloads (or reopens) then, a SIGUSR1 prints the counters then. It imports nothing,
 * so that nothing runs before it.
 */
export type SignalName = 'SIGINT' | 'SIGTERM' | 'SIGHUP' | 'SIGUSR1'

// SIGHUP last: a test (or a supervisor) that waits for it to be caught then knows all are.
const SIGNALS: readonly SignalName[] = ['SIGINT', 'SIGTERM', 'SIGUSR1', 'SIGHUP']
const isStop = (s: SignalName) => s === 'SIGINT' || s === 'SIGTERM'

const pending: SignalName[] = []
let handler: ((signal: SignalName) => void) | undefined
const listeners = new Map<SignalName, () => void>()

for (const signal of SIGNALS) {
  const listener = () => {
    if (handler) return handler(signal)
    // A second stop before the program is even ready: leave now, as a second stop does later.
    if (isStop(signal) && pending.some(isStop)) process.exit(1)
    if (!pending.includes(signal)) pending.push(signal)
  }
  listeners.set(signal, listener)
  process.on(signal, listener)
}

/**
 * The program is ready: `h` gets every signal from now on, starting with those that came
 * while it started (a stop alone if one came; otherwise one SIGHUP and one SIGUSR1 at most).
 */
export function takeSignals(h: (signal: SignalName) => void): void {
  handler = h
  const waiting = pending.splice(0)
  const stop = waiting.find(isStop)
  for (const signal of stop ? [stop] : waiting) h(signal)
}

/**
 * For commands that run no service (`--help`, `check`, `keygen`): signals act as Node's
 * defaults again, and a stop that came meanwhile is carried out now.
 */
export function releaseSignals(): void {
  for (const [signal, listener] of listeners) process.off(signal, listener)
  const stop = pending.find(isStop)
  pending.length = 0
  if (stop) process.kill(process.pid, stop)
}
