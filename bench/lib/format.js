'use strict'
/** Number and column formatting shared by the progress notes and the report tables. */

function kilo(n) {
  return n === null || n === undefined || Number.isNaN(n) ? 'n/a' : `${Math.round(n / 1000)}k`
}

function fmt(n) {
  if (n === null || n === undefined || Number.isNaN(n)) return 'n/a'
  return Math.round(n).toLocaleString('en-US')
}

const pad = (text, width) => String(text).padStart(width)
const padEnd = (text, width) => String(text).padEnd(width)

module.exports = { kilo, fmt, pad, padEnd }
