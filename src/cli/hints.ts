/**
 * Warnings of the core end with the counter they are counted in (`see stats().kernelDrops`),
 * which is what a Node caller reads. A person at the command line needs the fix instead,
 * named as they give it: a flag (`--recv-buffer`) or a config file's option (`recvBuffer`).
 */
import { labelOf, type Labels } from '../options'

/** Counter named in a warning → what to change, with `{option}` for the options it names. */
const FIXES: Record<string, string> = {
  kernelDrops: "raise {recvBuffer} (the system caps it at net.core.rmem_max), or lower the sender's {rate}",
  authFailures: 'give every sender the same {busKey} (and {busKeyNext} while rotating keys)',
  replays: "a datagram came twice or too late: check that no one resends captured datagrams and that the hosts' clocks agree",
}

/** The warning with its `see stats().x` replaced by the fix, in the caller's names. */
export function withFix(message: string, labels: Labels | undefined): string {
  return message.replace(/; see stats\(\)\.(\w+)$/, (whole, counter: string) => {
    const fix = FIXES[counter]
    if (!fix) return whole
    return `; ${fix.replace(/\{(\w+)\}/g, (_, field: string) => labelOf(labels, field))} (counted in ${counter})`
  })
}
