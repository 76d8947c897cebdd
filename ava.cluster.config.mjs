// The cluster failure scenarios (`npm run test:cluster`, test/cluster/scenarios):
// a real etcd, three real nodes and fault proxies per scenario, so one
// scenario at a time (the machine has two cores) and a timeout that fits the
// longest one. ava's timeout is the longest wait for any test result.
export default {
  files: ['dist/test/cluster/scenarios/**/*.test.js'],
  workerThreads: false,
  nodeArguments: ['--enable-source-maps'],
  timeout: '20m',
  concurrency: 1,
};
