'use strict'
// The `<platform>-<arch>[-abi]` suffix napi-rs uses in addon file names.
function isMusl() {
  if (process.platform !== 'linux') return false
  const report = process.report && process.report.getReport()
  return !(report && report.header && report.header.glibcVersionRuntime)
}

function platformArchABI() {
  const base = `${process.platform}-${process.arch}`
  if (process.platform === 'linux') return `${base}-${isMusl() ? 'musl' : 'gnu'}`
  if (process.platform === 'win32') return `${base}-msvc`
  return base
}

module.exports = { platformArchABI }
