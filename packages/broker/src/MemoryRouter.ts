import { timingSafeEqual } from 'node:crypto';
import type { Role } from '@vnf/protocol';
import type { ClaimResult, RouteHolder, Router } from './Router';

/** The single-broker Router: a Map in this process. */
export class MemoryRouter implements Router {
  private readonly holders = new Map<string, RouteHolder>();

  async claim(role: Role, eva: string, holder: RouteHolder, proof: string | undefined): Promise<ClaimResult> {
    const key = routeKey(role, eva);
    const current = this.holders.get(key);
    // One session speaks for an eva: a socket of the other role joins it only by proving that session's token.
    const other = this.holders.get(routeKey(role === 'endpoint' ? 'rpc' : 'endpoint', eva));
    if (other && !(proof !== undefined && sameToken(proof, other.session))) return { outcome: 'in-use' };
    if (!current) {
      const session = other ? other.session : holder.session;
      this.holders.set(key, { id: holder.id, node: holder.node, session });
      return { outcome: 'claimed', session };
    }
    if (proof !== undefined && sameToken(proof, current.session)) {
      this.holders.set(key, { id: holder.id, node: holder.node, session: current.session });
      return { outcome: 'replaced', session: current.session, previous: current };
    }
    return { outcome: 'in-use' };
  }

  async lookup(role: Role, eva: string): Promise<RouteHolder | undefined> {
    const holder = this.holders.get(routeKey(role, eva));
    return holder && { ...holder };
  }

  async release(role: Role, eva: string, holderId: string): Promise<void> {
    const key = routeKey(role, eva);
    if (this.holders.get(key)?.id === holderId) this.holders.delete(key);
  }
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
