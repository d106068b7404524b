import { type VnfError } from '@vnf/core';
import { CloseCode, RecordKind, checkRecords, parseClientMessage, visitRecords, type ClientMessage } from '@vnf/protocol';
import type { ClientBudgets } from './ClientBudgets';
import type { ClientConnection, PacedFrame } from './ClientConnection';
import type { ResolvedOptions } from './options';

const CONTROL = RecordKind.CONTROL;
const BINARY = RecordKind.BINARY;

/** What FrameIntake needs of the broker: somewhere to hand what a socket sent, and a way to close it. */
export interface IntakeHost {
  control(conn: ClientConnection, message: ClientMessage): void;
  relay(conn: ClientConnection, frame: Uint8Array, evaStart: number, evaEnd: number, kind: RecordKind, payloadStart: number, payloadEnd: number): void;
  /** A group record (GROUP_TEXT, GROUP_BINARY); false when the socket was closed meanwhile (for flooding). */
  fanOut(conn: ClientConnection, frame: Uint8Array, idStart: number, idEnd: number, kind: RecordKind, payloadStart: number, payloadEnd: number): boolean;
  sendError(conn: ClientConnection, code: string, message: string): void;
  drop(conn: ClientConnection, code: number, reason: string): void;
}

/**
 * What the broker reads from its sockets: frames checked and counted against the flood limits, control messages
 * paced by their client's budgets.
 *
 * A socket past its own advertised limits (messages, control messages per second) is closed RATE_LIMITED. A client
 * past its per-client budgets (control messages, control bytes; many sockets of one client, or one behind a NAT with
 * honest neighbours) is paced instead: the rest of its frame waits, its sockets are not read, TCP slows it down and
 * nothing is refused. The budgets refill evenly, so no client gets a second's worth of work done in one burst.
 */
export class FrameIntake {
  constructor(
    private readonly options: ResolvedOptions,
    private readonly budgets: ClientBudgets,
    private readonly host: IntakeHost,
  ) {}

  /** A frame from `conn`'s socket. */
  frame(conn: ClientConnection, data: Buffer, isBinary: boolean): void {
    if (conn.state === 'closed') return;
    conn.alive = true;
    if (!this.admit(conn, data, isBinary)) return;
    // Frames ws had read before the pause took effect wait behind the paced one, in order.
    if (conn.paced) conn.paced.push({ data, isBinary, at: 0 });
    else this.read(conn, { data, isBinary, at: 0 });
  }

  /** Counts a new frame against the socket's flood limits; false when it was refused (the socket is then closed). */
  private admit(conn: ClientConnection, data: Buffer, isBinary: boolean): boolean {
    if (!isBinary) return this.withinRate(conn, 1);
    if (conn.state !== 'ready') {
      this.host.drop(conn, CloseCode.PROTOCOL, 'send hello and wait for welcome before binary frames');
      return false;
    }
    let count: number;
    try {
      count = checkRecords(data, this.options.maxGroupsPerSocket > 0);
    } catch (err) {
      this.protocolError(conn, err as VnfError);
      return false;
    }
    return this.withinRate(conn, count);
  }

  /** Reads `frame` from its `at`; true when it was read to its end, false when the client's budget stopped it (it is then kept). */
  private read(conn: ClientConnection, frame: PacedFrame): boolean {
    if (!frame.isBinary) {
      if (!this.clientControl(conn, frame)) return false;
      if (!this.socketControlRate(conn)) return true;
      this.spendControlBytes(conn, frame.data.length);
      this.parseControl(conn, frame.data.toString('utf8'));
      return true;
    }
    const stoppedAt = visitRecords(frame.data, frame.at, (kind, bytes, evaStart, evaEnd, payloadStart, payloadEnd) => {
      if (conn.state === 'closed') return false;
      if (kind !== CONTROL) {
        if (kind > BINARY) return this.host.fanOut(conn, bytes, evaStart, evaEnd, kind, payloadStart, payloadEnd);
        this.host.relay(conn, bytes, evaStart, evaEnd, kind, payloadStart, payloadEnd);
        return true;
      }
      if (!this.budgets.takeControl(conn.client, Date.now())) return false;
      if (!this.socketControlRate(conn)) return false;
      this.spendControlBytes(conn, payloadEnd - payloadStart);
      this.parseControl(conn, (bytes as Buffer).toString('utf8', payloadStart, payloadEnd));
      return true;
    });
    if (stoppedAt === frame.data.length || conn.state === 'closed') return true;
    frame.at = stoppedAt;
    this.pace(conn, frame, this.budgets.controlWaitMs(conn.client, Date.now()));
    return false;
  }

  /** Takes one of the client's control messages for a text frame; false when the frame was kept for later. */
  private clientControl(conn: ClientConnection, frame: PacedFrame): boolean {
    const now = Date.now();
    if (this.budgets.takeControl(conn.client, now)) return true;
    this.pace(conn, frame, this.budgets.controlWaitMs(conn.client, now));
    return false;
  }

  /** Keeps `frame` (first in line) and stops reading `conn` for `ms`. */
  private pace(conn: ClientConnection, frame: PacedFrame, ms: number): void {
    if (!conn.paced) conn.paced = [frame];
    else if (conn.paced[0] !== frame) conn.paced.unshift(frame);
    this.pauseFor(conn, ms);
  }

  /** Counts a reply of `bytes` sent to `conn`'s client: past its budget, its next control message waits. */
  replied(conn: ClientConnection, bytes: number): void {
    this.budgets.spendReplyBytes(conn.client, bytes, Date.now());
  }

  private pauseFor(conn: ClientConnection, ms: number): void {
    if (conn.pacingTimer) return;
    conn.pacingTimer = setTimeout(() => {
      conn.pacingTimer = null;
      this.resume(conn);
    }, Math.max(1, ms));
    conn.syncReading();
  }

  /** The pause is over: reads what waited, in order, then the socket again (unless the budget stops it anew). */
  private resume(conn: ClientConnection): void {
    const waiting = conn.paced;
    while (waiting && waiting.length > 0 && conn.state !== 'closed') {
      if (!this.read(conn, waiting[0])) return;
      waiting.shift();
    }
    if (conn.paced === waiting) conn.paced = null;
    conn.syncReading();
  }

  private parseControl(conn: ClientConnection, text: string): void {
    let message: ClientMessage;
    try {
      message = parseClientMessage(text);
    } catch (err) {
      this.protocolError(conn, err as VnfError);
      return;
    }
    this.host.control(conn, message);
  }

  /**
   * Counts `messages` records of `conn`'s against its flood limit (a group record counts once per target: Groups adds
   * the rest); false, the socket being closed RATE_LIMITED, once it passed the limit.
   */
  withinRate(conn: ClientConnection, messages: number): boolean {
    if (conn.withinRate(messages, this.options.maxMessagesPerSecond, Date.now())) return true;
    if (conn.state !== 'closed') {
      this.host.sendError(conn, 'RATE_LIMITED', `More than ${this.options.maxMessagesPerSecond} messages per second; the broker closes this socket. Pace your sends.`);
      this.host.drop(conn, CloseCode.RATE_LIMITED, 'flood limit exceeded');
    }
    return false;
  }

  /** Control messages cost the broker far more than relayed records: a socket has a limit of its own for them, announced in its welcome. */
  private socketControlRate(conn: ClientConnection): boolean {
    if (conn.withinControlRate(this.options.maxControlPerSecond, Date.now())) return true;
    if (conn.state !== 'closed') {
      this.host.sendError(
        conn,
        'RATE_LIMITED',
        `More than ${this.options.maxControlPerSecond} control messages (ping, call, open, close) per second on this socket; the broker closes it. Pace your calls.`,
      );
      this.host.drop(conn, CloseCode.RATE_LIMITED, 'control flood limit exceeded');
    }
    return false;
  }

  /** Control messages cost the broker parsing and work per byte (a registry write is parsed, checked and serialized). */
  private spendControlBytes(conn: ClientConnection, bytes: number): void {
    this.budgets.spendControlBytes(conn.client, bytes, Date.now());
  }

  private protocolError(conn: ClientConnection, error: VnfError): void {
    if (conn.state === 'hello') this.host.drop(conn, CloseCode.PROTOCOL, truncate(error.message));
    else this.host.sendError(conn, 'PROTOCOL', error.message);
  }
}

/** Close reasons are at most 123 bytes. */
export function truncate(reason: string): string {
  return Buffer.byteLength(reason) <= 123 ? reason : Buffer.from(reason).subarray(0, 120).toString('utf8').replace(/\uFFFD$/, '') + '...';
}
