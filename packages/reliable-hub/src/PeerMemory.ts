/** Peers remembered, so memory stays bounded on an endpoint that meets many peers over its life. */
const MAX_PEERS = 4096;
/** Earlier incarnations remembered per peer: enough for stray frames of recent restarts. */
const MAX_DEAD_SESSIONS = 8;

interface PeerRecord {
  /** The peer's current session (incarnation). */
  session: string;
  /** Highest handshake number seen from that session: handshakes at or below it are stale copies. */
  n: number;
  /** Sessions of the peer's earlier incarnations: their frames are stale. */
  dead: string[];
  /** Tag of the last connection with the peer, so the next one differs. */
  lastTag?: number;
}

/**
 * What an endpoint remembers about peers beyond a connection's life: which incarnation is current and
 * which handshakes were already seen. Without it, a handshake frame duplicated or delayed by the network
 * would open a phantom connection after the real one ended.
 */
export class PeerMemory {
  private readonly records = new Map<string, PeerRecord>();

  /** True when `session` is an earlier incarnation of `peer`. */
  isDead(peer: string, session: string): boolean {
    return this.records.get(peer)?.dead.includes(session) ?? false;
  }

  /** True when a handshake `n` of `session` was already seen (a duplicate or a delayed copy). */
  isStale(peer: string, session: string, n: number): boolean {
    const record = this.records.get(peer);
    return record !== undefined && record.session === session && n <= record.n;
  }

  /** Records a handshake number seen from `session`; a new session retires the previous one. */
  remember(peer: string, session: string, n: number): void {
    const record = this.records.get(peer);
    if (!record) {
      this.store(peer, { session, n, dead: [] });
      return;
    }
    if (record.session !== session) {
      record.dead.push(record.session);
      if (record.dead.length > MAX_DEAD_SESSIONS) record.dead.shift();
      record.session = session;
      record.n = n;
    } else {
      record.n = Math.max(record.n, n);
    }
    this.store(peer, record);
  }

  lastTag(peer: string): number | undefined {
    return this.records.get(peer)?.lastTag;
  }

  setLastTag(peer: string, tag: number): void {
    const record = this.records.get(peer);
    if (record) record.lastTag = tag;
  }

  private store(peer: string, record: PeerRecord): void {
    // Re-inserting keeps the Map in least-recently-used order, so the oldest peer is evicted first.
    this.records.delete(peer);
    this.records.set(peer, record);
    if (this.records.size > MAX_PEERS) this.records.delete(this.records.keys().next().value as string);
  }
}
