// A stand-in primary for tests of the Forward path: a real gRPC server on
// 127.0.0.1 serving the cluster service, answering every forwarded request
// with a fixed value (Link and Replicate end at once).

import * as grpc from '@grpc/grpc-js';
import { CLUSTER_SERVICE, SERVER_OPTIONS, type ForwardReply, type ForwardRequest } from '../../src/cluster/wire.js';

export interface ForwardingPrimary {
  address: string;
  close(): void;
}

export async function forwardingPrimary(answer: unknown, credentials: grpc.ServerCredentials = grpc.ServerCredentials.createInsecure()): Promise<ForwardingPrimary> {
  const server = new grpc.Server(SERVER_OPTIONS);
  const unimplemented = (call: grpc.ServerDuplexStream<unknown, unknown>): void => void call.end();
  server.addService(CLUSTER_SERVICE, {
    Link: unimplemented,
    Replicate: unimplemented,
    Forward: (call: grpc.ServerDuplexStream<ForwardRequest[], ForwardReply[]>) => {
      call.sendMetadata(new grpc.Metadata());
      call.on('data', (requests: ForwardRequest[]) => call.write(requests.map((r) => ({ id: r.id, ok: answer }))));
      call.on('error', () => {});
    },
  });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', credentials, (err, bound) => (err === null ? resolve(bound) : reject(err))));
  return { address: `127.0.0.1:${port}`, close: () => server.forceShutdown() };
}
