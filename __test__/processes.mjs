// The processes a test started, and theirs: for stopping a shell's programs with the signal
// a user's Ctrl-C would send (Linux: /proc). No import of the package, so that the release
// tests, which run against the installed tarballs, can use it too.
import { readdirSync, readFileSync } from 'node:fs'

/** The processes a process started, and theirs (/proc/PID/task/TID/children). */
export function descendants(pid) {
  const found = []
  let tasks = []
  try {
    tasks = readdirSync(`/proc/${pid}/task`)
  } catch {
    return found
  }
  for (const tid of tasks) {
    let children = ''
    try {
      children = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8')
    } catch {
      continue
    }
    for (const child of children.trim().split(/\s+/).filter(Boolean).map(Number)) found.push(child, ...descendants(child))
  }
  return found
}
