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
