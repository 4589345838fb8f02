/**
 * Which prebuilt addon fits this machine, named the way napi-rs names addons and their npm
 * packages (`mproxy.linux-x64-gnu.node` in `mproxy-linux-x64-gnu`), so that a missing or
 * broken addon can be reported in one line that says what to install.
 */
import { readFileSync } from 'node:fs'

/** The platforms with a prebuilt addon package (package.json `napi.targets`, one each). */
export const PREBUILT_PLATFORMS: readonly string[] = [
  'linux-x64-gnu',
  'linux-x64-musl',
  'linux-arm64-gnu',
  'linux-arm64-musl',
  'linux-arm-gnueabihf',
  'darwin-x64',
  'darwin-arm64',
  'win32-x64-msvc',
]

/** musl or glibc, decided as the generated loader (index.js) decides it. */
function isMusl(): boolean {
  try {
    return readFileSync('/usr/bin/ldd', 'utf8').includes('musl')
  } catch {
    // no ldd: ask Node what it runs on
  }
  const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined
  return !report?.header?.glibcVersionRuntime
}

/** `linux-x64-gnu`, `darwin-arm64`, `win32-x64-msvc`, ...: the suffix of the addon's package. */
export function platformArchABI(): string {
  const base = `${process.platform}-${process.arch}`
  if (process.platform === 'linux') {
    const musl = isMusl()
    if (process.arch === 'arm') return `${base}-${musl ? 'musleabihf' : 'gnueabihf'}`
    return `${base}-${musl ? 'musl' : 'gnu'}`
  }
  if (process.platform === 'win32') return `${base}-msvc`
  return base
}
