// The management port: liveness, readiness, Prometheus metrics and, in
// cluster mode, the cluster as this node sees it (`/cluster`, and where a
// session or a partition lives: `/cluster/sessions/{id}`,
// `/cluster/partitions/{p}`). It is a
// separate Fastify instance on its own port so that operators can firewall it
// apart from the public endpoints. buildManagementServer() never listens;
// main.ts does.

import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import type { ClusterDescription, PartitionDescription } from '../cluster/cluster-description.js';
import { PARTITION_COUNT } from '../constants.js';
import { partitionOfSessionId } from '../protocol/partition.js';
import type { Engine } from '../host/engine.js';
import type { Metrics } from '../metrics/metrics.js';

export interface ManagementDeps {
  engine: Engine;
  metrics: Metrics;
  /** Realm ids known to the node (for the offline gauge), and their display label (the realm name). */
  realmIds?: () => string[];
  realmName?: (realmId: string) => string;
  /** Running totals of the event store. */
  eventStats?: () => { written: number; expired: number };
  /** The OpenAPI document of the public server (admin and OIDC). */
  openapi?: () => unknown;
  /** Extra readiness conditions by name (imports done, partitions owned); all must hold. */
  readyChecks?: Record<string, () => boolean>;
  /** The cluster as this node sees it (cluster mode only). */
  cluster?: ClusterView;
}

/** What `/cluster` and its sub-resources read from the cluster member. */
export interface ClusterView {
  describe(): ClusterDescription;
  describePartition(partition: number): PartitionDescription | null;
}

export function buildManagementServer(deps: ManagementDeps, options: { logger?: boolean | object } = {}): FastifyInstance {
  const app = Fastify({ logger: options.logger ?? false, bodyLimit: 1024 });

  app.get('/health/live', async (_request, reply) => {
    return reply.code(200).send({ status: 'UP' });
  });

  app.get('/health/ready', async (_request, reply) => {
    const checks: Record<string, boolean> = { shards: deps.engine.ready };
    for (const [name, check] of Object.entries(deps.readyChecks ?? {})) checks[name] = check();
    const ready = Object.values(checks).every(Boolean);
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'UP' : 'DOWN', checks });
  });

  registerClusterRoutes(app, deps.cluster);

  app.get('/openapi.json', async (_request, reply) => {
    if (deps.openapi === undefined) return reply.code(404).send({ error: 'not_found' });
    return reply.header('cache-control', 'no-cache').send(deps.openapi());
  });

  // `?name[]=a&name[]=b` exposes only those metrics (names not exported are
  // skipped), as Prometheus's Python client does: a probe that follows one
  // gauge closely renders only it, and asks the shards nothing unless it
  // names a gauge they feed.
  app.get<{ Querystring: Record<string, unknown> }>('/metrics', async (request, reply) => {
    const names = requestedNames(request.query['name[]']);
    const fromShards = names === null || names.some((name) => deps.metrics.fedByShards(name));
    await deps.metrics.refresh(deps.engine, { realmIds: deps.realmIds ?? (() => []), realmName: deps.realmName ?? ((id) => id) }, fromShards);
    if (deps.eventStats !== undefined) deps.metrics.recordEventStats(deps.eventStats());
    const registry = deps.metrics.registry;
    const text = names === null ? await registry.metrics() : await exposition(registry, names);
    return reply.header('content-type', registry.contentType).send(text);
  });

  return app;
}

const ALONE = { error: 'not_found', error_description: 'this node runs alone: it is a cluster member only with --cluster-etcd' };
const NO_TABLE = { error: 'temporarily_unavailable', error_description: 'this node has no partition table yet' };

/**
 * `/cluster`: the cluster as this node sees it; `/cluster/partitions/{p}`
 * and `/cluster/sessions/{id}`: who holds one partition (a session id names
 * its partition; whether that session exists is not looked up). Never cached.
 */
function registerClusterRoutes(app: FastifyInstance, cluster: ClusterView | undefined): void {
  app.get('/cluster', async (_request, reply) => {
    if (cluster === undefined) return reply.code(404).send(ALONE);
    return reply.header('cache-control', 'no-store').send(cluster.describe());
  });
  const holders = (reply: FastifyReply, partition: number, extra: Record<string, string> = {}): FastifyReply => {
    if (cluster === undefined) return reply.code(404).send(ALONE);
    const described = cluster.describePartition(partition);
    if (described === null) return reply.code(503).send(NO_TABLE);
    return reply.header('cache-control', 'no-store').send({ ...extra, ...described });
  };
  app.get<{ Params: { partition: string } }>('/cluster/partitions/:partition', async (request, reply) => {
    const partition = /^\d{1,4}$/.test(request.params.partition) ? Number(request.params.partition) : -1;
    if (partition < 0 || partition >= PARTITION_COUNT) {
      return reply.code(400).send({ error: 'invalid_request', error_description: `a partition is an integer from 0 to ${PARTITION_COUNT - 1}` });
    }
    return holders(reply, partition);
  });
  app.get<{ Params: { id: string } }>('/cluster/sessions/:id', async (request, reply) => {
    const partition = partitionOfSessionId(request.params.id);
    if (partition < 0) return reply.code(400).send({ error: 'invalid_request', error_description: 'not a session id (24 base64url characters)' });
    return holders(reply, partition, { session: request.params.id });
  });
}

/** The metric names a scrape asked for with `name[]`, or null for all of them. */
function requestedNames(value: unknown): string[] | null {
  if (value === undefined) return null;
  return (Array.isArray(value) ? value : [value]).filter((name): name is string => typeof name === 'string');
}

/** The exposition of the named metrics that exist, in the order asked, each once. */
async function exposition(registry: Metrics['registry'], names: readonly string[]): Promise<string> {
  const texts: string[] = [];
  for (const name of new Set(names)) {
    if (registry.getSingleMetric(name) !== undefined) texts.push(await registry.getSingleMetricAsString(name));
  }
  return texts.length === 0 ? '' : `${texts.join('\n\n')}\n`;
}
