/**
 * Checks of option values given to `create…()`. Each check names the option (or, when the
 * CLI calls, the flag) through a label, so the message says what was wrong and where.
 */
import { usageError } from './errors'

/** Maps option names to what a message should call them (the CLI passes flag names). */
export type Labels = Record<string, string>

export function labelOf(labels: Labels | undefined, field: string): string {
  return labels?.[field] ?? field
}

export function requireStringList(value: unknown, label: string, min = 1): string[] {
  if (value === undefined || value === null) {
    if (min > 0) throw usageError(`${label} is required`)
    return []
  }
  const list = typeof value === 'string' ? [value] : value
  if (!Array.isArray(list) || list.some((v) => typeof v !== 'string')) {
    throw usageError(`${label} must be a string or a list of strings`)
  }
  if (list.length < min) throw usageError(`${label} is required`)
  return list
}

export function requireString(value: unknown, label: string): string {
  if (typeof value !== 'string' || value === '') throw usageError(`${label} is required`)
  return value
}

export function optionalInteger(value: unknown, label: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
    throw usageError(`${label}: ${JSON.stringify(value)} is not a whole number from ${min} to ${max}`)
  }
  return n
}

export function optionalChoice<T extends string>(value: unknown, label: string, choices: readonly T[]): T | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'string' || !choices.includes(value as T)) {
    throw usageError(`${label}: ${JSON.stringify(value)} is not one of ${choices.join(', ')}`)
  }
  return value as T
}

export function optionalBoolean(value: unknown, label: string): boolean | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'boolean') throw usageError(`${label} must be true or false`)
  return value
}

const RATE_UNITS: Record<string, number> = { '': 1, k: 1e3, m: 1e6, g: 1e9 }

/**
 * A byte rate: a number of bytes per second, or text such as `50M`, `800k`, `1.5G`; 0 =
 * unlimited. A rate between 0 and 1 byte per second is refused rather than rounded to 0,
 * which would mean the opposite (unlimited).
 */
export function optionalRate(value: unknown, label: string): number | undefined {
  if (value === undefined) return undefined
  let rate: number
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) {
    rate = value
  } else {
    const match = typeof value === 'string' ? /^(\d+(?:\.\d+)?)([kKmMgG]?)$/.exec(value.trim()) : null
    if (!match) throw usageError(`${label}: ${JSON.stringify(value)} is not a rate in bytes per second (for example 50M, 800k or 0 for unlimited)`)
    rate = Number(match[1]) * RATE_UNITS[match[2].toLowerCase()]
  }
  if (rate > 0 && rate < 1) throw usageError(`${label}: ${JSON.stringify(value)} is below 1 byte per second; the smallest rate is 1 (0 means unlimited)`)
  if (!Number.isFinite(rate)) throw usageError(`${label}: ${JSON.stringify(value)} is not a rate in bytes per second (for example 50M, 800k or 0 for unlimited)`)
  return Math.round(rate)
}
