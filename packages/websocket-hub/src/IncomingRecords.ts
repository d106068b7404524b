import { VnfError, decodeUtf8 } from '@vnf/core';
import { RecordKind, parseBrokerMessage, readRecords, type BrokerMessage } from '@vnf/protocol';

// Strings, evas and control messages are decoded byte for byte (decodeUtf8): a leading U+FEFF is part of the eva or
// string (a default TextDecoder would strip it, so "\uFEFFcarol" would arrive as "carol"), and bytes that are not
// UTF-8 throw instead of becoming U+FFFD.
const CONTROL = RecordKind.CONTROL;
const BINARY = RecordKind.BINARY;

/**
 * `frame[start, end)` copied into a plain Uint8Array: the application gets exactly that type, and holds no view of
 * the frame (in Node a Buffer's `slice` is a view).
 */
function copyOf(frame: Uint8Array, start: number, end: number): Uint8Array {
  const copy = new Uint8Array(end - start);
  copy.set(frame.subarray(start, end));
  return copy;
}

/** What the decoder hands its channel. */
export interface IncomingHost {
  /** The channel's eva, for error messages. */
  readonly eva: string;
  /** Messages are delivered only while the socket is welcomed. */
  isUp(): boolean;
  control(message: BrokerMessage): void;
  onData(sourceEva: string, payload: string | Uint8Array): void;
  onError(error: VnfError): void;
}

/** The channel's inbound side: frames from the broker decoded into control messages and relayed messages. */
export class IncomingRecords {
  /** The source eva of the last message record, as bytes and decoded: a batch is mostly from one sender. */
  private lastEvaBytes: Uint8Array | null = null;
  private lastEva = '';

  constructor(private readonly host: IncomingHost) {}

  receive(data: unknown): void {
    try {
      if (typeof data === 'string') {
        this.host.control(parseBrokerMessage(data));
        return;
      }
      const frame = data instanceof ArrayBuffer ? new Uint8Array(data) : data instanceof Uint8Array ? data : null;
      if (!frame) throw new VnfError('PROTOCOL', 'The broker sent a frame of an unexpected type.');
      readRecords(frame, (kind, bytes, evaStart, evaEnd, payloadStart, payloadEnd) => {
        if (kind === CONTROL) {
          this.host.control(parseBrokerMessage(decodeUtf8(bytes, payloadStart, payloadEnd)));
        } else if (this.host.isUp()) {
          const source = this.sourceEva(bytes, evaStart, evaEnd);
          // Binary is copied out of the batch so the application never holds a view of other messages.
          if (kind === BINARY) this.host.onData(source, copyOf(bytes, payloadStart, payloadEnd));
          else this.deliverText(source, bytes, payloadStart, payloadEnd);
        }
      });
    } catch (err) {
      this.host.onError(
        VnfError.is(err) ? err : new VnfError('PROTOCOL', `Could not read a frame from the broker: ${String(err)}. Check that client and broker versions match.`, { cause: err }),
      );
    }
  }

  /**
   * Delivers a string record. The broker relays its bytes unread, so one sender's bad record is dropped alone:
   * the batch also carries other senders' messages.
   */
  private deliverText(source: string, frame: Uint8Array, start: number, end: number): void {
    let text: string;
    try {
      text = decodeUtf8(frame, start, end);
    } catch {
      this.host.onError(
        new VnfError(
          'PROTOCOL',
          `Dropped a string message from ${source} to ${this.host.eva}: its bytes are not UTF-8, so it cannot be read without changing it. ` +
            'VNF clients never send such messages; check the software behind that eva.',
          { details: { eva: this.host.eva, sourceEva: source } },
        ),
      );
      return;
    }
    this.host.onData(source, text);
  }

  /** Decodes a record's source eva, reusing the previous record's string when the bytes are the same. */
  private sourceEva(frame: Uint8Array, start: number, end: number): string {
    const last = this.lastEvaBytes;
    if (last && last.byteLength === end - start) {
      let same = true;
      for (let i = 0; i < last.byteLength; i++) {
        if (last[i] !== frame[start + i]) {
          same = false;
          break;
        }
      }
      if (same) return this.lastEva;
    }
    // A copy: a view would keep the whole frame alive. Cached only once decoded, so bytes that fail to decode
    // can never match the cache and pass for the previous sender.
    const bytes = copyOf(frame, start, end);
    const eva = decodeUtf8(bytes);
    this.lastEvaBytes = bytes;
    this.lastEva = eva;
    return eva;
  }
}
