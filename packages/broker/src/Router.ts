import type { Role } from '@vnf/protocol';

/** Who holds an eva: a socket (by id) and the session token that lets a reconnect of it take over. */
export interface RouteHolder {
  /** The holding socket's id, unique across the brokers sharing the router (also its connections' incarnation). */
  id: string;
  /** The node id of the broker holding the socket (where the Bus delivers to it). */
  node: string;
  session: string;
}

/** A claim to renew: the eva in a role, as held by socket `id`. */
export interface RenewedClaim {
  role: Role;
  eva: string;
  id: string;
}

export type ClaimResult =
  | { outcome: 'claimed'; session: string }
  | { outcome: 'replaced'; session: string; previous: RouteHolder }
  | { outcome: 'in-use' };

/**
 * Which eva is on which socket (docs/design.md, Routing and scale). Asynchronous so that a Redis-backed router can replace
 * MemoryRouter without touching the wire protocol. Each role (endpoint, rpc) has its own holder, but one session
 * speaks for an eva: while one role holds it, a claim of the other role needs that holder's session token (and
 * then shares that session), so an rpc socket cannot act as the registry owner of someone else's endpoint, in
 * either arrival order. A holder stays until released: the broker releases an uncleanly dropped socket's eva
 * only when its grace period ends, so during it the eva is reserved for its session token.
 */
export interface Router {
  /**
   * Gives `eva` in `role` to `holder` unless another holder has it, or the other role holds it and `proof` is not
   * that holder's session token. With `proof` equal to the current holder's session token the new holder takes
   * over (keeping that session token) and the previous one is returned.
   */
  claim(role: Role, eva: string, holder: RouteHolder, proof: string | undefined, ttlMs?: number): Promise<ClaimResult>;
  /** The current holder of `eva`, if any. */
  lookup(role: Role, eva: string): Promise<RouteHolder | undefined>;
  /** Frees `eva` if `holderId` still holds it (a socket that was taken over frees nothing). */
  release(role: Role, eva: string, holderId: string): Promise<void>;
  /**
   * Extends the claims of these holders by `ttlMs` from now (a claim given a TTL and not renewed in time is gone, as
   * if released: the broker holding it died). Claims another holder took over are left alone.
   */
  renew(claims: readonly RenewedClaim[], ttlMs: number): Promise<void>;
}
