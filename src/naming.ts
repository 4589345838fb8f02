/**
 * How messages name options: by path for the API and config files
 * (`routes[2].udpDownstreamAddrs[1]`), by flag on the command line (`--udp-downstream-addr`).
 */

export type Path = ReadonlyArray<PropertyKey>

/** How messages name options. */
export interface Naming {
  /** Put in front of every path (a config file's `routes[2]`). */
  prefix?: Path
  /** Option name to flag: messages from the command line name flags, without indices. */
  flags?: Readonly<Record<string, string>>
}

/** What a message calls option `field`: its flag, or its path. */
export function nameOf(naming: Naming, field: string): string {
  return naming.flags?.[field] ?? renderPath([...(naming.prefix ?? []), field])
}

/** `routes[2].udpDownstreamAddrs[1]`. */
export function renderPath(path: Path): string {
  let out = ''
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`
    else out += out === '' ? String(part) : `.${String(part)}`
  }
  return out
}
