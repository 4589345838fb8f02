// Every program's --help against the golden files in __test__/golden/: a changed flag, help
// line or example shows up as a diff in review. After a deliberate change:
//   npm run build:ts && node scripts/help-golden.js --write
import test from 'ava'
import { existsSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { root } from './helpers.mjs'

const require = createRequire(import.meta.url)
const { currentHelps } = require(path.join(root, 'scripts', 'help-golden.js'))

for (const help of currentHelps()) {
  test(`${help.command} is as in ${path.relative(root, help.file)}`, (t) => {
    t.true(existsSync(help.file), `${help.file} is missing: node scripts/help-golden.js --write`)
    t.is(help.text, readFileSync(help.file, 'utf8'), 'the help changed: if on purpose, run node scripts/help-golden.js --write')
  })
}

test('no help line is wider than the flag column and its text allow, and every flag has help', (t) => {
  for (const help of currentHelps()) {
    for (const line of help.text.split('\n').filter((l) => /^ {4}(-\w, )?--[a-z]/.test(l))) {
      t.regex(line, /^ {4}\S.{0,43} \S/, `${help.command}: ${line}`)
    }
  }
})
