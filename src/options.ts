/**
 * How messages of `create…()` name options: by path for the API and config files
 * (`routes[2].udpDownstreamAddrs`), by flag for the command line (`--udp-downstream-addr`).
 * Every value check is in the option schema (`schema/`); what is left here names things
 * for the checks that need the system (resolution, binding, files).
 */
import { nameOf, type Naming } from './naming'

/** How a caller names options in messages. */
export type Labels = Naming

export function labelOf(labels: Labels | undefined, field: string): string {
  return nameOf(labels ?? {}, field)
}

/**
 * Messages from the core name options as `{optionName}` (it does not know whether a flag or
 * an API option was used); this writes each as the caller names it.
 */
export function withOptionNames(message: string, labels: Labels | undefined): string {
  return message.replace(/\{([a-z][A-Za-z]*)\}/g, (_, field: string) => labelOf(labels, field))
}
