// The members of the rooms end-to-end test and soak behind one interface, wherever they live: in this process
// (RoomMember), in a child process (memberProcess.cjs, killable with SIGKILL), or in a browser page (see
// packages/vnf/test/e2e/roomPage.ts).
import { fork, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { RoomMember, type MemberReport, type MemberSpec, type Received } from './roomMember';

export interface MemberHandle {
  readonly eva: string;
  /** Where it lives, for messages: "node", "process 1234", "page". */
  readonly where: string;
  broadcast(tag: string, count: number): Promise<void>;
  received(tag: string): Promise<Received>;
  counts(tag: string): Promise<Record<string, number>>;
  report(): Promise<MemberReport>;
  /** The room's internals toward each other member (RoomMember.diagnose), for failure messages. */
  diagnose(): Promise<Record<string, unknown>>;
  leave(): Promise<void>;
}

/** A member in this process. */
export async function localMember(spec: MemberSpec): Promise<MemberHandle & { member: RoomMember; close(): Promise<void> }> {
  const member = await RoomMember.join(spec);
  return {
    eva: spec.eva,
    where: 'node',
    member,
    broadcast: (tag, count) => member.broadcast(tag, count),
    received: async (tag) => member.received(tag),
    counts: async (tag) => member.counts(tag),
    report: async () => member.report(),
    diagnose: async () => member.diagnose(),
    leave: () => member.leave(),
    close: () => member.close(),
  };
}

const SCRIPT = join(__dirname, 'memberProcess.cjs');

/** A child process of memberProcess.cjs holding members; calls time out after `timeoutMs`. */
export class MemberProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr = '';
  private nextId = 0;
  private readonly pending = new Map<number, { resolve(value: any): void; reject(err: Error): void; timer: ReturnType<typeof setTimeout> }>();
  private readonly ready: Promise<void>;

  constructor(private readonly timeoutMs = 30_000) {
    this.child = fork(SCRIPT, [], { execArgv: [], stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    // VNF_MEMBER_LOG_DIR=<dir>: each process's stderr (DEBUG=vnf:* output) also goes to <dir>/member-<pid>.log.
    const logDir = process.env.VNF_MEMBER_LOG_DIR;
    if (logDir) this.child.stderr!.pipe(createWriteStream(join(logDir, `member-${this.child.pid}.log`)));
    this.child.stderr!.on('data', (chunk: Buffer) => {
      // Bounded: a chatty child must not grow the test's memory.
      this.stderr = (this.stderr + chunk.toString()).slice(-20_000);
    });
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })));
    this.ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`member process ${this.child.pid} did not start within ${timeoutMs} ms; stderr: ${this.stderr}`)), timeoutMs);
      this.child.once('message', () => {
        clearTimeout(timer);
        resolve();
      });
    });
    this.ready.catch(() => undefined);
    this.child.on('message', (msg: { id?: number; value?: unknown; error?: string }) => {
      if (msg.id === undefined) return;
      const call = this.pending.get(msg.id);
      if (!call) return;
      this.pending.delete(msg.id);
      clearTimeout(call.timer);
      if (msg.error !== undefined) call.reject(new Error(`in member process ${this.child.pid}: ${msg.error}`));
      else call.resolve(msg.value);
    });
    void this.exited.then(({ code, signal }) => {
      for (const [id, call] of this.pending) {
        this.pending.delete(id);
        clearTimeout(call.timer);
        call.reject(new Error(`member process ${this.child.pid} exited (${signal ?? code}); stderr: ${this.stderr}`));
      }
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  async call<T>(op: string, ...args: unknown[]): Promise<T> {
    await this.ready;
    if (this.child.exitCode !== null || this.child.signalCode !== null) throw new Error(`member process ${this.pid} has exited (${this.child.signalCode ?? this.child.exitCode}); stderr: ${this.stderr}`);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`member process ${this.pid}: ${op} did not answer within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.child.send({ id, op, args });
    });
  }

  /** A member joined in this process. */
  async join(spec: MemberSpec): Promise<MemberHandle> {
    await this.call('join', spec);
    const where = `process ${this.pid}`;
    return {
      eva: spec.eva,
      where,
      broadcast: (tag, count) => this.call('broadcast', spec.eva, tag, count),
      received: (tag) => this.call('received', spec.eva, tag),
      counts: (tag) => this.call('counts', spec.eva, tag),
      report: () => this.call('report', spec.eva),
      diagnose: () => this.call('diagnose', spec.eva),
      leave: () => this.call('leave', spec.eva),
    };
  }

  /** kill -9: no leave, no close handshake; the broker sees the socket die. */
  async kill(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    await this.exited;
  }

  /** Closes its members, then lets it exit (SIGKILL if it does not within a few seconds). */
  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    await this.call('close').catch(() => undefined);
    if (this.child.connected) this.child.disconnect();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await this.exited;
    clearTimeout(timer);
  }
}

/**
 * For a failure message: which member lacks which sender's broadcasts of `tag`, with both sides' view of the link
 * (connected, path, the sender's stream started toward the receiver, the receiver's stream of the sender).
 */
export async function describeMissing(members: readonly MemberHandle[], tag: string, count: number): Promise<string> {
  const counts = await Promise.all(members.map((m) => m.counts(tag)));
  const diagnoses = new Map<string, Promise<Record<string, unknown>>>();
  const diagnose = (m: MemberHandle) => {
    if (!diagnoses.has(m.eva)) diagnoses.set(m.eva, m.diagnose().catch((err: Error) => ({ error: err.message })));
    return diagnoses.get(m.eva)!;
  };
  const lines: string[] = [];
  for (const [i, receiver] of members.entries()) {
    for (const sender of members) {
      if (sender === receiver) continue;
      const got = counts[i][sender.eva] ?? 0;
      if (got >= count) continue;
      const [r, s] = await Promise.all([diagnose(receiver), diagnose(sender)]);
      lines.push(
        `${receiver.eva} (${receiver.where}) has ${got}/${count} of ${sender.eva} (${sender.where}); ` +
          `receiver's view ${JSON.stringify(r[sender.eva] ?? r)}; sender's view ${JSON.stringify(s[receiver.eva] ?? s)}; ` +
          `sessions: receiver ${String(r.session)}, sender ${String(s.session)}`,
      );
    }
  }
  return lines.length ? lines.slice(0, 12).join('\n') : 'nothing missing';
}
