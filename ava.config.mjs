// Tests run on the tsc output (`npm test` builds first), in child processes:
// the code under test starts its own worker threads and loads native LMDB,
// which ava's worker-thread mode does not isolate well. The cluster failure
// scenarios are a suite of their own (ava.cluster.config.mjs, `npm run
// test:cluster`): minutes of real processes, not part of `npm test`.
export default {
  files: ['dist/test/**/*.test.js', '!dist/test/cluster/scenarios/**'],
  workerThreads: false,
  nodeArguments: ['--enable-source-maps'],
  timeout: '60s',
  concurrency: 2,
};
