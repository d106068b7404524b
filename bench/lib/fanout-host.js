'use strict';
// One side of a fan-out scenario in a process of its own (forked by lib/client.js): the sender, or a group of
// members, of one system of lib/fanout-systems.js. Answers the bench over IPC:
//   openSender { system, url, members, size, openMs }  the sender (every member must be online first)
//   openMembers { system, url, evas, acker, slow }  members; `acker` (an index) acknowledges through the relay,
//                                                  `slow` (an index or null) is the one that may stop reading
//   connected                                      resolves once every member knows of the sender's connection
//   arm { ackEvery }                               resets the counts; the acker acknowledges every ackEvery
//   send { durationMs, window, ackers, size, paceBytes, stallCapMs, rate }
//        broadcasts for durationMs (as fast as allowed, or `rate` a second), each message carrying its send time
//        and number; at most `window` broadcasts past what every acker acknowledged, and only while the sender's
//        buffer is below paceBytes (else it waits for its socket's drain). Answers the start time, broadcasts sent,
//        bytes the sender's socket wrote and how long it waited, for the window and for the drain.
//   pause / resume { quietMs }                     the slow member stops reading its socket / reads on (answers
//                                                  its count once nothing more arrived for quietMs)
//   finish { total, quietMs }                      resolves once every member but the slow one has `total`
//                                                  messages, or nothing arrived for quietMs; answers the counts,
//                                                  the latency histogram of those members and the last arrival
//   progress / stop                                a run's broadcasts so far and the slow member's count / ends
//                                                  the sender's run early
//   cpu / close
require('./register');
const { byName } = require('./fanout-systems');
const { now } = require('./measure');
const histogram = require('./latency-histogram');

let sender = null;
/** The sender's run under way: { sent(), stop() }. */
let running = null;
let members = null;
// Members' state (this process's members).
let counts = [];
let hist = histogram.create();
let delivered = 0;
let slowDelivered = 0;
let lastAt = 0;
let ackerIndex = -1;
let slowIndex = -1;
let ackEvery = Infinity;
let sinceAck = 0;

/** Every member's message: its latency from the send time at the head of the payload, counted per member. */
function receive(i, s) {
  const t = now();
  lastAt = t;
  counts[i]++;
  if (i === slowIndex) {
    slowDelivered++;
    return;
  }
  delivered++;
  histogram.add(hist, t - parseFloat(s));
  if (i === ackerIndex && ++sinceAck >= ackEvery) {
    sinceAck = 0;
    const at = s.indexOf(':') + 1;
    members.ack(i, String(parseInt(s.slice(at, s.indexOf(':', at)), 10) + 1));
  }
}

const handlers = {
  async openSender({ system, url, members: evas, size, openMs }) {
    sender = await byName[system].sender(url, evas, { size, openMs });
    sender.onack = () => {};
  },
  async openMembers({ system, url, evas, acker, slow }) {
    counts = new Array(evas.length).fill(0);
    ackerIndex = acker;
    slowIndex = slow ?? -1;
    members = await byName[system].members(url, evas, receive);
  },
  async connected() {
    await members.connected();
  },
  async arm({ ackEvery: every }) {
    counts.fill(0);
    hist = histogram.create();
    delivered = 0;
    slowDelivered = 0;
    lastAt = 0;
    sinceAck = 0;
    ackEvery = every;
  },
  async pause() {
    members.pause(slowIndex);
    return { at: now() };
  },
  /** The slow member reads on; answers what it got in all once nothing more arrived for quietMs. */
  async resume({ quietMs }) {
    members.resume(slowIndex);
    const started = now();
    return new Promise((resolve) => {
      let seen = slowDelivered;
      let quietSince = now();
      const check = () => {
        if (slowDelivered !== seen) {
          seen = slowDelivered;
          quietSince = now();
        }
        if (now() - quietSince > quietMs || now() - started > 30_000) resolve({ slowDelivered, cutOff: members.cutOff() });
        else setTimeout(check, 10);
      };
      check();
    });
  },
  async finish({ total, quietMs }) {
    return new Promise((resolve) => {
      let seen = -1;
      let quietSince = now();
      const check = () => {
        const done = counts.every((c, i) => i === slowIndex || c >= total);
        if (delivered + slowDelivered !== seen) {
          seen = delivered + slowDelivered;
          quietSince = now();
        }
        if (done || now() - quietSince > quietMs) {
          const healthy = counts.length - (slowIndex >= 0 ? 1 : 0);
          resolve({ delivered, expected: healthy * total, slowDelivered, lastAt, hist: histogram.sparse(hist), complete: done });
        } else setTimeout(check, 5);
      };
      check();
    });
  },
  async send({ durationMs, window, ackers, size, paceBytes, stallCapMs, rate = null }) {
    const pad = 'x'.repeat(size);
    const ackedBy = new Map();
    let acked = 0;
    let seq = 0;
    let waiting = null; // 'window' | 'drain' while the sender waits
    let waitStart = 0;
    const waits = { window: { max: 0, total: 0, count: 0 }, drain: { max: 0, total: 0, count: 0 } };
    const socket = sender.netSocket();
    const bytesBefore = socket.bytesWritten;
    let finished = false;
    let resolveRun;
    const result = new Promise((resolve) => (resolveRun = resolve));
    const start = now();
    let deadline = start + durationMs;
    // `stop` (from the bench) ends the run at the next broadcast; a wait under way is waited out and measured.
    running = { sent: () => seq, stop: () => (deadline = Math.min(deadline, now())) };
    const endWait = () => {
      const d = now() - waitStart;
      const w = waits[waiting];
      w.total += d;
      w.count++;
      if (d > w.max) w.max = d;
      waiting = null;
    };
    const finish = (stalled) => {
      if (finished) return;
      finished = true;
      running = null;
      clearInterval(watchdog);
      sender.onack = () => {};
      const end = now();
      // The last broadcasts leave in this tick's flush (a microtask); count their bytes too.
      setImmediate(() =>
        resolveRun({
          start,
          end,
          sent: seq,
          bytes: sender.netSocket() === socket ? socket.bytesWritten - bytesBefore : null,
          waits,
          stalled,
        }),
      );
    };
    let drainSocket = null;
    const drained = () => {
      if (finished || waiting !== 'drain') return;
      if (sender.buffered() < paceBytes / 2) {
        drainSocket.off('drain', drained);
        endWait();
        pump();
      } else setTimeout(drained, 1);
    };
    const pump = () => {
      for (;;) {
        const t = now();
        if (t >= deadline) return finish(false);
        // At a fixed rate, broadcast i leaves at start + i / rate (late ones at once); not a wait of the sender.
        if (rate !== null && seq >= ((t - start) * rate) / 1000 + 1) {
          setTimeout(pump, 1);
          return;
        }
        if (seq - acked >= window) {
          waiting = 'window';
          waitStart = t;
          return;
        }
        if (sender.buffered() >= paceBytes) {
          waiting = 'drain';
          waitStart = t;
          drainSocket = sender.netSocket();
          drainSocket.once('drain', drained);
          setTimeout(drained, 1);
          return;
        }
        const head = `${t.toFixed(3)}:${seq}:`;
        sender.broadcast(head + pad.slice(head.length));
        seq++;
      }
    };
    sender.onack = (from, text) => {
      ackedBy.set(from, Number(text));
      if (ackedBy.size < ackers) return;
      let min = Infinity;
      for (const v of ackedBy.values()) if (v < min) min = v;
      acked = min;
      if (waiting === 'window' && seq - acked < window) {
        endWait();
        pump();
      }
    };
    // A sender held back for good (nothing acknowledged, the socket never drains) ends the run after stallCapMs.
    const watchdog = setInterval(() => {
      if (waiting && now() - waitStart > stallCapMs) {
        endWait();
        finish(true);
      }
    }, 50);
    pump();
    return result;
  },
  /** Sender: broadcasts sent so far in this run. Members: what the slow member got. */
  async progress() {
    return { sent: running ? running.sent() : null, slowDelivered };
  },
  async stop() {
    if (running) running.stop();
  },
  async cpu() {
    return { cpu: process.cpuUsage() };
  },
  async close() {
    if (sender) await sender.close();
    if (members) await members.close();
    setImmediate(() => process.exit(0));
  },
};

process.on('message', async (msg) => {
  try {
    const result = await handlers[msg.type](msg);
    process.send({ ...result, id: msg.id, ok: true });
  } catch (err) {
    process.send({ id: msg.id, ok: false, error: String((err && err.stack) || err), notAvailable: Boolean(err && err.notAvailable) });
  }
});
process.on('disconnect', () => process.exit(0));
process.send({ type: 'ready' });
