// Goal: the etcd the cluster tests run on is a real, working etcd, and the
// helper's controls do what the scenarios rely on: a put/get round trip, a
// lease whose key goes with it when revoked, data that survives a stop and
// start on the same directory and ports, a frozen (SIGSTOP) etcd that answers
// nothing until SIGCONT, and a cleanup that leaves no process or directory;
// with TLS, an etcd that serves https:// and answers only clients holding a
// certificate of its CA.
// Method: Debian's etcd binary on 127.0.0.1 and the `etcd3` client;
// certificates made by openssl.

import { access } from 'node:fs/promises';
import test from 'ava';
import { Etcd3 } from 'etcd3';
import { readFileSync } from 'node:fs';
import { EtcdProcess } from './etcd-process.js';
import { tempDir } from './temp-dir.js';
import { testCa } from './test-pki.js';

test.serial('a real etcd: put/get, a lease, stop and start on the same data, freeze and thaw, cleanup', async (t) => {
  const etcd = await EtcdProcess.start();
  t.teardown(() => etcd.cleanup());
  const client = new Etcd3({ hosts: etcd.clientUrl, dialTimeout: 2000 });
  t.teardown(() => client.close());

  await client.put('/test/plain').value('kept');
  t.is(await client.get('/test/plain').string(), 'kept');

  const lease = client.lease(2, { autoKeepAlive: false });
  await lease.put('/test/leased').value('mine');
  t.is(await client.get('/test/leased').string(), 'mine');
  await lease.revoke();
  t.is(await client.get('/test/leased').string(), null, 'a revoked lease takes its key with it');

  await etcd.stop();
  t.false(etcd.running);
  t.false(await etcd.healthy());
  await etcd.restart();
  t.is(await client.get('/test/plain').string(), 'kept', 'the data directory survives a restart');

  etcd.signal('SIGSTOP');
  t.false(await etcd.healthy(), 'a frozen etcd answers nothing');
  etcd.signal('SIGCONT');
  await t.notThrowsAsync(client.get('/test/plain').string());

  const { dataDir, pid } = etcd;
  await etcd.cleanup();
  t.false(etcd.running);
  await t.throwsAsync(access(dataDir), undefined, 'the temp data directory is gone');
  t.throws(() => process.kill(pid!, 0), undefined, 'the process is gone');
});

test.serial('a real etcd over TLS: healthy, a put/get round trip with a client certificate, nothing without one', async (t) => {
  const ca = testCa(tempDir(t));
  const files = ca.issue('etcd', ['127.0.0.1']);
  const etcd = await EtcdProcess.start({ tls: files });
  t.teardown(() => etcd.cleanup());
  t.is(etcd.clientUrl, `https://127.0.0.1:${etcd.clientPort}`);
  t.true(await etcd.healthy());
  const client = new Etcd3({ hosts: etcd.clientUrl, dialTimeout: 2000, credentials: { rootCertificate: readFileSync(ca.ca), certChain: readFileSync(files.cert), privateKey: readFileSync(files.key) } });
  t.teardown(() => client.close());
  await client.put('/test/tls').value('sealed');
  t.is(await client.get('/test/tls').string(), 'sealed');
  const anonymous = new Etcd3({ hosts: etcd.clientUrl, dialTimeout: 2000, credentials: { rootCertificate: readFileSync(ca.ca) } });
  t.teardown(() => anonymous.close());
  await t.throwsAsync(anonymous.get('/test/tls').string(), undefined, 'no client certificate: refused');
});
