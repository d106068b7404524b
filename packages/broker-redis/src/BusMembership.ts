import { createLogger } from '@vnf/core';
import type { BusMember, BusMessage } from '@vnf/protocol';
import type { Redis } from 'ioredis';
import { BatchWriter, MAX_ENTRY_BYTES, readBatch } from './busCodec';
import { ANNOUNCE_LOSS, LEASE, LEAVE, REAP } from './busScripts';
import type { BusHost } from './RedisBus';
import { blockingConnection, disconnectReader, watchRunId } from './connection';

const log = createLogger('broker-redis:bus');
/** How long a read blocks before it is made again (a closed member stops at the next one at the latest). */
const BLOCK_MS = 5_000;
/** A stream nobody reads (its broker died and no survivor reaped it yet) is deleted after this long. */
const STREAM_TTL_MS = 60 * 60 * 1000;
const EXPIRY_REFRESH_MS = 60 * 1000;
/** Read entries are trimmed at most this often (a command less per read on a busy stream), or past TRIM_ENTRIES. */
const TRIM_EVERY_MS = 50;
const TRIM_ENTRIES = 256;
/** How long leaving waits for Redis to take the lease back before it closes its reader anyway (Redis may be down). */
const LEAVE_TIMEOUT_MS = 1_000;

/**
 * One broker on a RedisBus: its lease, the reader of its stream and the writer of what it sends. A broker that
 * learns it was reaped (its lease ran out while it stalled) or that Redis restarted treats every broker it talked
 * to as down: what was in flight may be gone, so its connections are reported lost rather than silently short.
 */
export class BusMembership implements BusMember {
  private readonly reader: Redis;
  private readonly pending = new Map<string, BatchWriter>();
  private readonly entries = new Map<string, Buffer[]>();
  /** The brokers this one sent to or heard from: the ones to call down when this one lost track. */
  private readonly peers = new Set<string>();
  /** When this broker last set the expiry of each stream it writes to. */
  private readonly expirySetAt = new Map<string, number>();
  private trimmedAt = 0;
  private readSinceTrim = 0;
  private trimTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly leaseTimer: ReturnType<typeof setInterval>;
  private readonly stopWatch: () => void;
  private flushScheduled = false;
  private lastId = '0-0';
  private active = true;
  /** Whether a first lease was granted: a new lease after it means this broker was reaped meanwhile. */
  private leased = false;
  /** A write to another broker's stream failed: the others must be told this one is down for them. */
  private lossToAnnounce = false;
  private leaving: Promise<void> | null = null;
  private reading: Promise<void>;

  constructor(
    private readonly host: BusHost,
    readonly node: string,
    private readonly receive: (message: BusMessage) => void,
  ) {
    this.reader = blockingConnection(host.redis, `vnf-bus-${node}`);
    this.renewLease();
    this.leaseTimer = setInterval(() => this.renewLease(), Math.max(10, Math.floor(host.nodeTtlMs / 3)));
    this.leaseTimer.unref?.();
    this.stopWatch = watchRunId(host.redis, () => this.lostTrack('Redis restarted'));
    this.reading = this.read();
  }

  send(node: string, message: BusMessage): void {
    if (!this.active) return;
    this.peers.add(node);
    let batch = this.pending.get(node);
    if (!batch) {
      batch = new BatchWriter();
      this.pending.set(node, batch);
    }
    batch.add(message);
    if (batch.bytes >= MAX_ENTRY_BYTES) {
      let full = this.entries.get(node);
      if (!full) this.entries.set(node, (full = []));
      full.push(batch.take());
    }
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // Everything sent in this task (a frame's records, a fan-out) goes in one entry per broker, in one round trip.
    queueMicrotask(() => this.flush());
  }

  leave(): void {
    void this.leaveAndWait();
  }

  leaveAndWait(): Promise<void> {
    if (this.leaving) return this.leaving;
    this.flush();
    this.active = false;
    clearInterval(this.leaseTimer);
    if (this.trimTimer) clearTimeout(this.trimTimer);
    this.trimTimer = null;
    this.stopWatch();
    const { redis, prefix } = this.host;
    this.leaving = (async () => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          log('%s: Redis did not take the lease back within %d ms; leaving anyway (the lease runs out)', this.node, LEAVE_TIMEOUT_MS);
          resolve();
        }, LEAVE_TIMEOUT_MS);
      });
      const left = redis.eval(LEAVE, 1, `${prefix}nodes`, `${prefix}bus:`, this.node).then(
        () => undefined,
        (err: unknown) => log('%s: leaving failed: %s', this.node, String(err)),
      );
      await Promise.race([left, late]);
      clearTimeout(timer);
      if (disconnectReader(this.reader)) await this.reading;
    })();
    this.host.left(this, this.leaving);
    return this.leaving;
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.pending.size === 0) return;
    const pipeline = this.host.redis.pipeline();
    const targets: string[] = [];
    for (const [node, batch] of this.pending) {
      const stream = `${this.host.prefix}bus:${node}`;
      const full = this.entries.get(node) ?? [];
      if (batch.bytes > 0) full.push(batch.take());
      for (const entry of full) pipeline.xadd(stream, '*', 'm', entry);
      // The safety net's expiry is refreshed once a minute per stream, not with every write (a command less a tick).
      const now = Date.now();
      if ((this.expirySetAt.get(node) ?? 0) + EXPIRY_REFRESH_MS <= now) {
        this.expirySetAt.set(node, now);
        pipeline.pexpire(stream, STREAM_TTL_MS);
      }
      targets.push(node);
    }
    this.pending.clear();
    this.entries.clear();
    pipeline.exec().then(
      (results) => {
        // A write Redis refused is a loss the broker must hear about: that broker's connections are lost.
        if (results?.some(([err]) => err)) this.writeFailed(targets, String(results.find(([err]) => err)?.[0]));
      },
      (err: unknown) => this.writeFailed(targets, String(err)),
    );
  }

  private writeFailed(targets: string[], reason: string): void {
    log('%s: writing to %s failed: %s', this.node, targets.join(', '), reason);
    for (const node of targets) this.deliver({ t: 'down', node });
    // The other side must hear it too: until Redis takes the announcement, each lease renewal tries again.
    this.lossToAnnounce = true;
    this.announceLoss();
  }

  /** Tells the live brokers this one is down for them (its connections with them are lost), keeping its lease. */
  private announceLoss(): void {
    if (!this.lossToAnnounce) return;
    const { redis, prefix } = this.host;
    redis.eval(ANNOUNCE_LOSS, 1, `${prefix}nodes`, `${prefix}bus:`, this.node).then(
      () => {
        this.lossToAnnounce = false;
      },
      (err: unknown) => log('%s: announcing its lost writes failed: %s', this.node, String(err)),
    );
  }

  private renewLease(): void {
    this.announceLoss();
    const { redis, prefix, nodeTtlMs } = this.host;
    redis
      .eval(LEASE, 1, `${prefix}nodes`, `${prefix}bus:`, this.node, String(nodeTtlMs))
      .then((fresh) => {
        // A new lease after the first one: this broker was reaped meanwhile, its peers were told it is down.
        if (fresh === 1 && this.leased) this.lostTrack('its lease ran out');
        this.leased = true;
      })
      .then(() => redis.eval(REAP, 1, `${prefix}nodes`, `${prefix}bus:`))
      .then((dead) => {
        if (Array.isArray(dead) && dead.length > 0) log('%s reaped %s', this.node, dead.join(', '));
      })
      .catch((err: unknown) => log('%s: renewing the lease failed: %s', this.node, String(err)));
  }

  /** This broker can no longer vouch for what was in flight: every broker it talked to is down for it. */
  private lostTrack(why: string): void {
    if (!this.active) return;
    log('%s: %s; its connections with other brokers are lost', this.node, why);
    for (const node of this.peers) this.deliver({ t: 'down', node });
    this.peers.clear();
    // lastId stays: a stream that survived (a restart with its data kept) must not be read again from the start,
    // and one made anew gets ids from Redis's clock, past the last one read.
  }

  private deliver(message: BusMessage): void {
    if (!this.active) return;
    try {
      this.receive(message);
    } catch (err) {
      log('%s: a bus message failed: %s', this.node, String(err));
    }
  }

  /** Trims what was read from this broker's stream. */
  private trim(): void {
    if (this.trimTimer) clearTimeout(this.trimTimer);
    this.trimTimer = null;
    this.trimmedAt = Date.now();
    this.readSinceTrim = 0;
    if (!this.active || this.lastId === '0-0') return;
    const stream = `${this.host.prefix}bus:${this.node}`;
    this.host.redis.xtrim(stream, 'MINID', nextId(this.lastId)).catch((err: unknown) => log('%s: trimming failed: %s', this.node, String(err)));
  }

  private async read(): Promise<void> {
    const stream = `${this.host.prefix}bus:${this.node}`;
    while (this.active) {
      let reply: [Buffer, [Buffer, Buffer[]][]][] | null;
      try {
        reply = (await this.reader.xreadBuffer('COUNT', this.host.readCount, 'BLOCK', BLOCK_MS, 'STREAMS', stream, this.lastId)) as typeof reply;
      } catch (err) {
        if (!this.active) return;
        log('%s: reading its stream failed: %s', this.node, String(err));
        await new Promise((resolve) => setTimeout(resolve, 100));
        continue;
      }
      if (!reply) continue;
      for (const [, entries] of reply) {
        for (const [id, fields] of entries) {
          this.lastId = id.toString();
          const entry = fields[1];
          if (!entry) continue;
          try {
            readBatch(entry, (message) => {
              if ('fromNode' in message) this.peers.add(message.fromNode);
              this.deliver(message);
            });
          } catch (err) {
            log('%s: a malformed bus entry %s was skipped: %s', this.node, this.lastId, String(err));
          }
        }
      }
      // What was read is trimmed away: a stream holds only what its broker has not read yet (and at most a few
      // milliseconds' or TRIM_ENTRIES entries' worth of what it has).
      this.readSinceTrim += reply.reduce((sum, [, entries]) => sum + entries.length, 0);
      if (this.readSinceTrim >= TRIM_ENTRIES || Date.now() - this.trimmedAt >= TRIM_EVERY_MS) this.trim();
      else if (!this.trimTimer) {
        // The tail is trimmed a moment later, so that a stream a busy broker has read does not keep it.
        this.trimTimer = setTimeout(() => this.trim(), TRIM_EVERY_MS);
        this.trimTimer.unref?.();
      }
    }
  }
}

/** The smallest stream id after `id` (`ms-seq`). */
function nextId(id: string): string {
  const [ms, seq] = id.split('-');
  return `${ms}-${BigInt(seq) + 1n}`;
}
