// ava's configuration for the Windows run of `npm run check:platforms` (Windows node.exe
// under Wine): every test file, in worker threads (each node.exe start costs a second or
// more there), one file at a time. Tests of what Windows lacks skip themselves there, with
// the reason in their title (platform.mjs).
export default {
  files: ['__test__/*.test.mjs'],
  timeout: '3m',
  concurrency: 1,
  workerThreads: true,
}
