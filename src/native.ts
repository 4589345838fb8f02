/**
 * The compiled addon, loaded through the loader `napi build` generates (index.js), on first
 * use rather than on import: `--help` and `--version` must work, and the package must load,
 * on a machine where the addon is missing. A missing or broken addon becomes one
 * MproxyError (`EMPROXY_ADDON`) that names the platform and what to install. Kept in one
 * place so that the rest of the TypeScript never imports the binding directly.
 */
import { existsSync } from 'node:fs'
import path from 'node:path'
import type * as Binding from '../index'
import { MproxyError } from './errors'
import { platformArchABI, PREBUILT_PLATFORMS } from './platform'

export type NativeRoute = Binding.NativeRoute
export type NativeTap = Binding.NativeTap
export type RouteOptions = Binding.RouteOptions
export type RouteEvent = Binding.RouteEvent
export type NativeEndpointStats = Binding.EndpointStats
export type NativeTotals = Binding.Totals
export type NativeEndpointKind = Binding.EndpointKind
export type NativeLogLevel = Binding.LogLevel
export type NativeClientAction = Binding.ClientAction
export type NativeInputOutcome = Binding.InputOutcome
export type NativeRotation = Binding.Rotation
export type NativeRetention = Binding.Retention
export type DestinationOptions = Binding.DestinationOptions
export type ListenOptions = Binding.ListenOptions
export type TcpConnectOptions = Binding.TcpConnectOptions
export type FramingOptions = Binding.FramingOptions
export type BusKeyOptions = Binding.BusKeyOptions
export type RuleOptions = Binding.RuleOptions
export type OutputShapingOptions = Binding.OutputShapingOptions
export type UdpOutputGroupOptions = Binding.UdpOutputGroupOptions
export type OutputOptions = Binding.OutputOptions
export type KeepAliveOptions = Binding.KeepAliveOptions
export type TcpConnectOutputOptions = Binding.TcpConnectOutputOptions
export type TlsOptions = Binding.TlsOptions

const packageRoot = path.join(__dirname, '..')
let loaded: typeof Binding | undefined

function firstLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err)
  return text.split('\n')[0].trim()
}

/** Why `require()` of one addon file or package fails, or undefined when it is not there. */
function loadFailure(specifier: string): string | undefined {
  try {
    require(specifier)
    return undefined
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    return code === 'MODULE_NOT_FOUND' ? undefined : firstLine(err)
  }
}

/** One line saying why there is no addon here and what to do about it. */
export function missingAddonMessage(): string {
  const platform = platformArchABI()
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const version = (require('../package.json') as { version: string }).version
  const addonPackage = `mproxy-${platform}`
  const localFile = path.join(packageRoot, `mproxy.${platform}.node`)
  const broken = (existsSync(localFile) && loadFailure(localFile)) || loadFailure(addonPackage)
  if (broken) return `the native addon for ${platform} does not load (${broken}); reinstall ${addonPackage}@${version} or build mproxy from source`
  if (existsSync(path.join(packageRoot, 'crates'))) {
    return `the native addon for ${platform} is not built in this clone: run npm run build:native (needs a Rust toolchain, https://rustup.rs)`
  }
  if (!PREBUILT_PLATFORMS.includes(platform)) {
    return `mproxy has no prebuilt native addon for ${platform}; build it from a git clone with a Rust toolchain (see "Building from source" in the README)`
  }
  return `the native addon for ${platform} is not installed: npm install ${addonPackage}@${version} (npm skips this optional dependency of mproxy with --omit=optional or a lockfile made on another platform)`
}

/** The addon, loaded on first use. Throws an MproxyError with code `EMPROXY_ADDON`. */
export function native(): typeof Binding {
  if (loaded) return loaded
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    loaded = require('../index.js') as typeof Binding
  } catch {
    throw new MproxyError('EMPROXY_ADDON', missingAddonMessage())
  }
  return loaded
}
