// The child process of ProxyHost (proxy-host.ts): owns the FaultProxy
// instances and applies the test process's commands, answering each once done.
import { FaultProxy, type Direction } from './fault-proxy.js';
import { PROXY_HOST, type FaultAction, type ProxyCommand } from './proxy-host.js';
import { socketOwnerClassifier } from './socket-owner.js';

const proxies = new Map<string, FaultProxy>();
let pids = new Map<string, number | undefined>();
const classify = socketOwnerClassifier(() => pids);

function proxy(name: string): FaultProxy {
  const p = proxies.get(name);
  if (p === undefined) throw new Error(`no proxy ${name}`);
  return p;
}

function apply(direction: Direction, action: FaultAction): void {
  switch (action.kind) {
    case 'delay':
      direction.delay(action.ms, action.jitterMs);
      break;
    case 'rate':
      direction.rate(action.bytesPerSecond);
      break;
    case 'blackhole':
      direction.blackhole();
      break;
    case 'drop':
      direction.drop(action.probability);
      break;
    case 'heal':
      direction.heal();
      break;
  }
}

async function handle(command: ProxyCommand): Promise<unknown> {
  switch (command.op) {
    case 'open': {
      if (proxies.has(command.name)) throw new Error(`proxy ${command.name} exists`);
      const p = await FaultProxy.start({ host: PROXY_HOST, target: command.target, ...(command.classify ? { classify } : {}) });
      proxies.set(command.name, p);
      return { name: command.name, port: p.port, address: p.address };
    }
    case 'fault': {
      const { request } = command;
      const p = proxy(request.proxy);
      const link = request.source === undefined ? p : p.from(request.source);
      if (request.direction !== 'down') apply(link.up, request.action);
      if (request.direction !== 'up') apply(link.down, request.action);
      return undefined;
    }
    case 'reset':
      if (command.source === undefined) proxy(command.proxy).reset();
      else proxy(command.proxy).from(command.source).reset();
      return undefined;
    case 'heal':
      proxy(command.proxy).heal();
      return undefined;
    case 'sources':
      return proxy(command.proxy).sources();
    case 'pids':
      pids = command.pids;
      return undefined;
    case 'closeAll':
      await Promise.all([...proxies.values()].map((p) => p.close()));
      proxies.clear();
      return undefined;
  }
}

process.on('message', (m: { id: number; command: ProxyCommand }) => {
  handle(m.command).then(
    (result) => process.send!({ id: m.id, result }),
    (err: unknown) => process.send!({ id: m.id, error: err instanceof Error ? err.message : String(err) }),
  );
});
// The test process gone (crashed, killed): nothing left to proxy for.
process.on('disconnect', () => process.exit(0));
