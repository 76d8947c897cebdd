// Which process opened a loopback TCP connection: the fault proxy's way to
// tell which node a gRPC connection comes from. All nodes dial from
// 127.0.0.1 (the kernel picks that source address for every loopback
// destination), so the address says nothing; but the client socket of an
// accepted loopback connection is in this machine's /proc/net/tcp (local
// port = the accepted socket's remote port), its inode names it, and exactly
// one process holds an fd `socket:[inode]`. Linux only, same user only —
// which is what the cluster tests run as.

import { readdir, readFile, readlink } from 'node:fs/promises';
import type { Socket } from 'node:net';

/** The inode of the socket whose local port is `localPort` and remote port `remotePort`, from /proc/net/tcp{,6}. */
async function socketInode(localPort: number, remotePort: number): Promise<string | undefined> {
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = await readFile(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields.length < 10) continue;
      const local = parseInt(fields[1]!.split(':')[1]!, 16);
      const remote = parseInt(fields[2]!.split(':')[1]!, 16);
      if (local === localPort && remote === remotePort) return fields[9];
    }
  }
  return undefined;
}

async function holdsSocket(pid: number, inode: string): Promise<boolean> {
  const want = `socket:[${inode}]`;
  let fds: string[];
  try {
    fds = await readdir(`/proc/${pid}/fd`);
  } catch {
    return false;
  }
  for (const fd of fds) {
    try {
      if ((await readlink(`/proc/${pid}/fd/${fd}`)) === want) return true;
    } catch {
      // closed meanwhile
    }
  }
  return false;
}

/**
 * A classify() for the fault proxy: the label of the process (among those
 * `pids()` names at the time of the connection) that owns the client end of
 * an accepted loopback connection, or undefined.
 */
export function socketOwnerClassifier(pids: () => ReadonlyMap<string, number | undefined>) {
  return async (accepted: Socket): Promise<string | undefined> => {
    if (accepted.remotePort === undefined || accepted.localPort === undefined) return undefined;
    const inode = await socketInode(accepted.remotePort, accepted.localPort);
    if (inode === undefined || inode === '0') return undefined;
    for (const [label, pid] of pids()) {
      if (pid !== undefined && (await holdsSocket(pid, inode))) return label;
    }
    return undefined;
  };
}
