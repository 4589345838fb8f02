'use strict'
// The `<platform>-<arch>[-abi]` suffix napi-rs uses in addon file and package names, for the
// scripts (which run before the TypeScript is compiled). src/platform.ts is the same logic
// for the package at run time; __test__/packaging.test.mjs checks that they agree.
const { readFileSync } = require('node:fs')

function isMusl() {
  if (process.platform !== 'linux') return false
  try {
    return readFileSync('/usr/bin/ldd', 'utf8').includes('musl')
  } catch {
    // no ldd: ask Node what it runs on
  }
  const report = process.report?.getReport()
  return !report?.header?.glibcVersionRuntime
}

function platformArchABI() {
  const base = `${process.platform}-${process.arch}`
  if (process.platform === 'linux') {
    if (process.arch === 'arm') return `${base}-${isMusl() ? 'musleabihf' : 'gnueabihf'}`
    return `${base}-${isMusl() ? 'musl' : 'gnu'}`
  }
  if (process.platform === 'win32') return `${base}-msvc`
  return base
}

module.exports = { platformArchABI }
