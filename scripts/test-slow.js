// MPROXY_TEST_SLOW: one factor for every deadline of the tests, for slow or busy machines
// (MPROXY_TEST_SLOW=3: every wait, hang limit and ava's timeout three times as long). The
// tests' helpers (__test__/helpers.mjs) apply it to their waits; scripts/test.js and
// scripts/test-install.js to ava's timeout. Deadlines only bound hangs: a test that passes
// passes as soon as its condition holds, whatever the factor.
'use strict'

/** The factor from the environment: a number from 1 up; 1 when unset. */
function slowFactor(env = process.env) {
  const text = env.MPROXY_TEST_SLOW
  if (text === undefined || text.trim() === '') return 1
  const n = Number(text)
  if (!Number.isFinite(n) || n < 1) throw new Error(`MPROXY_TEST_SLOW: "${text}" is not a number from 1 up (a factor for every test deadline, for example 3)`)
  return n
}

/** ava's timeout (its limit on a run with no test finishing), scaled: `minutes` at factor 1. */
function avaTimeout(minutes, env = process.env) {
  return `${Math.ceil(minutes * slowFactor(env) * 60)}s`
}

module.exports = { slowFactor, avaTimeout }
