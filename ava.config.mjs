// Tests run on the tsc output (`npm test` builds first), in child processes:
// the code under test starts its own worker threads and loads native LMDB,
// which ava's worker-thread mode does not isolate well.
export default {
  files: ['dist/test/**/*.test.js'],
  workerThreads: false,
  nodeArguments: ['--enable-source-maps'],
  timeout: '60s',
  concurrency: 2,
};
