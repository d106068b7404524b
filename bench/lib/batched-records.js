'use strict';
// The record framing of the batched raw `ws` baseline (servers/raw-ws-batched.js and its clients):
// [u8 name length, name bytes, u32 payload length, payload bytes], many to a frame. `name` is the
// target on the way to the server and the source on the way out.

class RecordWriter {
  constructor(capacity = 16 * 1024) {
    this.buf = Buffer.allocUnsafe(capacity);
    this.length = 0;
  }

  /** Appends one record; `payload` is a Buffer/Uint8Array or a string (written as UTF-8 in place). */
  write(name, payload) {
    const max = 5 + name.length + (typeof payload === 'string' ? payload.length * 3 : payload.length);
    if (this.length + max > this.buf.length) {
      const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.length + max));
      this.buf.copy(bigger, 0, 0, this.length);
      this.buf = bigger;
    }
    const buf = this.buf;
    let at = this.length;
    buf[at++] = name.length;
    at += name.copy(buf, at);
    const lengthAt = at;
    at += 4;
    const n = typeof payload === 'string' ? buf.write(payload, at) : (buf.set(payload, at), payload.length);
    buf.writeUInt32BE(n, lengthAt);
    this.length = at + n;
  }

  finish() {
    return this.buf.subarray(0, this.length);
  }
}

/** Calls `each(name, payloadView)` for every record of `frame` (views into the frame, no copies). */
function readRecords(frame, each) {
  let at = 0;
  while (at < frame.length) {
    const nameLength = frame[at++];
    const name = frame.latin1Slice(at, at + nameLength);
    at += nameLength;
    const n = frame.readUInt32BE(at);
    at += 4;
    each(name, frame.subarray(at, at + n));
    at += n;
  }
}

module.exports = { RecordWriter, readRecords };
