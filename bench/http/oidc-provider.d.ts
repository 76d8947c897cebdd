// The slice of oidc-provider's API (9.x, untyped JavaScript) that the peer
// server (oidc-provider-server.ts) uses. Only the bench imports it.

declare module 'oidc-provider' {
  import type { IncomingMessage, ServerResponse } from 'node:http';

  export type AdapterPayload = Record<string, unknown> & { grantId?: string; uid?: string; userCode?: string; consumed?: number };

  export interface ClientInstance {
    clientId: string;
  }

  export interface GrantInstance {
    addOIDCScope(scope: string): void;
    addResourceScope(resource: string, scope: string): void;
    save(): Promise<string>;
  }

  export interface RefreshTokenInstance {
    save(): Promise<string>;
  }

  export default class Provider {
    constructor(issuer: string, configuration: Record<string, unknown>);
    callback(): (req: IncomingMessage, res: ServerResponse) => void;
    on(event: string, listener: (...args: unknown[]) => void): this;
    readonly Grant: new (fields: { accountId: string; clientId: string }) => GrantInstance;
    readonly RefreshToken: new (fields: Record<string, unknown>) => RefreshTokenInstance;
    readonly Client: { find(id: string): Promise<ClientInstance | undefined> };
  }
}
