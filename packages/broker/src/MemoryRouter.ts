import { timingSafeEqual } from 'node:crypto';
import type { ClaimResult, RenewedClaim, Role, RouteHolder, Router } from '@vnf/protocol';

/** A holder as kept: with when its claim runs out (Infinity: it never does). */
interface Held extends RouteHolder {
  expires: number;
}

/** The Router of one process: a Map. Brokers of one process may share one (a cluster in one process). */
export class MemoryRouter implements Router {
  private readonly holders = new Map<string, Held>();

  async claim(role: Role, eva: string, holder: RouteHolder, proof: string | undefined, ttlMs = Infinity): Promise<ClaimResult> {
    const key = routeKey(role, eva);
    const current = this.live(key);
    // One session speaks for an eva: a socket of the other role joins it only by proving that session's token.
    const other = this.live(routeKey(role === 'endpoint' ? 'rpc' : 'endpoint', eva));
    if (other && !(proof !== undefined && sameToken(proof, other.session))) return { outcome: 'in-use' };
    const expires = Date.now() + ttlMs;
    if (!current) {
      const session = other ? other.session : holder.session;
      this.holders.set(key, { id: holder.id, node: holder.node, session, expires });
      return { outcome: 'claimed', session };
    }
    if (proof !== undefined && sameToken(proof, current.session)) {
      this.holders.set(key, { id: holder.id, node: holder.node, session: current.session, expires });
      return { outcome: 'replaced', session: current.session, previous: publicHolder(current) };
    }
    return { outcome: 'in-use' };
  }

  async lookup(role: Role, eva: string): Promise<RouteHolder | undefined> {
    const holder = this.live(routeKey(role, eva));
    return holder && publicHolder(holder);
  }

  async release(role: Role, eva: string, holderId: string): Promise<void> {
    const key = routeKey(role, eva);
    if (this.holders.get(key)?.id === holderId) this.holders.delete(key);
  }

  async renew(claims: readonly RenewedClaim[], ttlMs: number): Promise<void> {
    const expires = Date.now() + ttlMs;
    for (const { role, eva, id } of claims) {
      const held = this.live(routeKey(role, eva));
      if (held?.id === id) held.expires = expires;
    }
  }

  /** The holder of `key` unless its claim ran out (then it is gone, as if released). */
  private live(key: string): Held | undefined {
    const held = this.holders.get(key);
    if (held && held.expires <= Date.now()) {
      this.holders.delete(key);
      return undefined;
    }
    return held;
  }
}

function publicHolder({ id, node, session }: Held): RouteHolder {
  return { id, node, session };
}

function routeKey(role: Role, eva: string): string {
  return `${role}\u0000${eva}`;
}

/** Constant-time comparison, so a session token cannot be guessed byte by byte from response times. */
function sameToken(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
