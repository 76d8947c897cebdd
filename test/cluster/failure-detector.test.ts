// Goal: the failure detector accuses the peers a healthy node cannot hear,
// and only them: a silent peer after the suspicion window, a refused redial
// after LINK_DOWN_MS, a missed replication acknowledgement; never for silence
// when this node hears none of its peers (its own network or load is the
// likelier story), never after its own stall; a peer never heard since it
// joined only after a join grace; and a peer that restarted (a new lease)
// is judged afresh, its old accusation withdrawn.
// Each accusation carries its reason (silent, link down, replication
// timeout): the operator reads it in the 'peer suspected' log line.
// Method: the detector on a test clock, driven round by round like the
// member's 250 ms ticker.

import test from 'ava';
import { FailureDetector, HEARTBEAT_MS, JOIN_GRACE_MS, LINK_DOWN_MS, SUSPICION_MS, type PeerHealth } from '../../src/cluster/failure-detector.js';

function harness() {
  let now = 10_000;
  const said: string[] = [];
  /** Why each accusation was made (what the operator reads in the log). */
  const reasons: string[] = [];
  const detector = new FailureDetector((node, suspected, reason) => {
    said.push(`${suspected ? '+' : '-'}${node}`);
    if (reason !== undefined) reasons.push(`${node}: ${reason}`);
  }, () => now);
  const peers = new Map<string, PeerHealth>();
  const add = (node: string, lease = '1'): PeerHealth => {
    const peer: PeerHealth = { node, lease, heard: true, lastHeardMs: now, linkDown: false };
    peers.set(node, peer);
    return peer;
  };
  /** Advances the clock round by round for `ms`; `heard` peers answer every round. */
  const run = (ms: number, heard: string[] = []): void => {
    for (let t = 0; t < ms; t += HEARTBEAT_MS) {
      now += HEARTBEAT_MS;
      for (const node of heard) peers.get(node)!.lastHeardMs = now;
      detector.tick([...peers.values()]);
    }
  };
  return { detector, said, reasons, add, run, peers, jump: (ms: number) => (now += ms), tick: () => detector.tick([...peers.values()]) };
}

test('a peer silent past the suspicion window is accused, and cleared when heard again', (t) => {
  const h = harness();
  h.add('b');
  h.add('c');
  h.run(SUSPICION_MS - HEARTBEAT_MS, ['c']);
  t.deepEqual(h.said, [], 'not before the window');
  h.run(2 * HEARTBEAT_MS, ['c']);
  t.deepEqual(h.said, ['+b']);
  t.deepEqual(h.reasons, ['b: silent']);
  t.true(h.detector.suspected.has('b'));
  h.run(HEARTBEAT_MS, ['b', 'c']);
  t.deepEqual(h.said, ['+b', '-b']);
});

test('a refused redial is accused after LINK_DOWN_MS, even when no peer is heard', (t) => {
  const h = harness();
  h.add('b').linkDown = true;
  h.add('c').linkDown = true;
  h.run(LINK_DOWN_MS + HEARTBEAT_MS);
  t.deepEqual(h.said.sort(), ['+b', '+c']);
  t.deepEqual(h.reasons.sort(), ['b: link down', 'c: link down']);
});

test('a link down since a known moment is accused LINK_DOWN_MS after it, at the round the member asks for then', (t) => {
  const h = harness();
  h.add('c');
  const b = h.add('b');
  h.run(HEARTBEAT_MS, ['b', 'c']);
  b.linkDown = true;
  b.linkDownSinceMs = h.jump(10); // the stream broke 10 ms after a round
  h.jump(LINK_DOWN_MS - 1);
  h.tick();
  t.deepEqual(h.said, [], 'not before LINK_DOWN_MS');
  h.jump(1);
  h.tick(); // the member's round LINK_DOWN_MS after the break, between two regular ones
  t.deepEqual(h.said, ['+b']);
  t.deepEqual(h.reasons, ['b: link down']);
});

test('hearing none of two peers, a node accuses neither for silence', (t) => {
  const h = harness();
  h.add('b');
  h.add('c');
  h.run(SUSPICION_MS * 3);
  t.deepEqual(h.said, []);
});

test('a single peer that falls silent is accused (two-member view)', (t) => {
  const h = harness();
  h.add('b');
  h.run(SUSPICION_MS + HEARTBEAT_MS);
  t.deepEqual(h.said, ['+b']);
});

test('a missed replication acknowledgement accuses the peer for the suspicion window', (t) => {
  const h = harness();
  h.add('b');
  h.add('c');
  h.detector.replicationTimedOut('b');
  h.run(HEARTBEAT_MS, ['b', 'c']);
  t.deepEqual(h.said, ['+b']);
  t.deepEqual(h.reasons, ['b: replication timeout']);
  h.run(SUSPICION_MS, ['b', 'c']);
  t.deepEqual(h.said, ['+b', '-b']);
});

test('after its own stall a node accuses no one for the suspicion window', (t) => {
  const h = harness();
  h.add('b');
  h.add('c');
  h.run(HEARTBEAT_MS, ['b', 'c']);
  h.jump(SUSPICION_MS * 2); // the event loop was stuck: everyone looks silent
  h.tick();
  h.run(SUSPICION_MS - HEARTBEAT_MS, ['c']);
  t.deepEqual(h.said, []);
  h.run(2 * HEARTBEAT_MS, ['c']);
  t.deepEqual(h.said, ['+b'], 'b stayed silent past the window after the stall');
});

test('a restarted peer (new lease) starts with a clean record and its old accusation is withdrawn', (t) => {
  const h = harness();
  h.add('b');
  h.add('c');
  h.run(SUSPICION_MS + HEARTBEAT_MS, ['c']);
  t.deepEqual(h.said, ['+b']);
  h.add('b', '2'); // the same node under a new lease, just dialled
  h.run(HEARTBEAT_MS, ['c']);
  t.deepEqual(h.said, ['+b', '-b']);
  t.false(h.detector.suspected.has('b'));
});

test('a member never heard since it joined (its Link still dialling) is not accused for silence, only for a refused redial', (t) => {
  const h = harness();
  h.add('b').heard = false;
  h.add('c');
  h.run(SUSPICION_MS * 3, ['c']);
  t.deepEqual(h.said, []);
  h.peers.get('b')!.linkDown = true;
  h.run(LINK_DOWN_MS + HEARTBEAT_MS, ['c']);
  t.deepEqual(h.said, ['+b']);
});

test('a member still never heard after the join grace is accused for silence (cut off from us, maybe not from etcd)', (t) => {
  const h = harness();
  h.add('b').heard = false;
  h.add('c');
  h.run(JOIN_GRACE_MS, ['c']); // the grace counts from the first round that saw it
  t.deepEqual(h.said, [], 'not within the grace');
  h.run(HEARTBEAT_MS, ['c']);
  t.deepEqual(h.said, ['+b']);
  t.deepEqual(h.reasons, ['b: silent']);
});

test('a member that left is no longer accused', (t) => {
  const h = harness();
  h.add('b');
  h.add('c');
  h.run(SUSPICION_MS + HEARTBEAT_MS, ['c']);
  h.peers.delete('b');
  h.run(HEARTBEAT_MS, ['c']);
  t.deepEqual(h.said, ['+b', '-b']);
});

test('a peer that acknowledges again after a replication timeout is no longer accused for it', (t) => {
  const h = harness();
  h.add('b');
  h.add('c');
  h.detector.replicationTimedOut('b');
  h.run(HEARTBEAT_MS, ['b', 'c']);
  t.deepEqual(h.said, ['+b']);
  h.detector.replicationRecovered('b');
  h.run(HEARTBEAT_MS, ['b', 'c']);
  t.deepEqual(h.said, ['+b', '-b'], 'withdrawn at the next round, before the suspicion window ends');
});
