/* global Vnf */
// The rooms example's page: joins the room named in the URL (?room=lobby), lists its members live, and broadcasts
// what you type to everyone in it. Optional URL parameters for tests and experiments:
//   drop=0.05&seed=7   put an UnreliableHub (5 % of messages dropped, seeded) under the ReliableHub
//   relay=force        every connection over the broker's relay (RtcHub forceRelay), never a data channel
// window.roomTest is a small hook for the end-to-end test (packages/vnf/test/e2e/rooms.test.ts): broadcast,
// received, members, report, leave (and `debug`: the room and its endpoints, for failure messages).
(function () {
  'use strict';

  const $ = (id) => document.getElementById(id);
  const params = new URLSearchParams(location.search);
  const roomName = params.get('room') || 'lobby';
  const drop = Number(params.get('drop') || 0);
  const seed = Number(params.get('seed') || 1);
  const forceRelay = params.get('relay') === 'force';
  const brokerUrl = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/webbroker/vnf-ws';

  // One eva per tab, kept across reloads with the socket's session token (both in sessionStorage): a reloaded tab
  // gets its eva back from the broker, and the room sees it leave and join again, never twice.
  const EVA_KEY = 'vnf-rooms-eva';
  let eva = sessionStorage.getItem(EVA_KEY);
  if (!eva) {
    eva = 'page-' + Math.random().toString(36).slice(2, 10);
    sessionStorage.setItem(EVA_KEY, eva);
  }

  // MultiplexHub(ReliableHub([UnreliableHub](RtcHub(WebSocketHub)))): direct data channels where WebRTC can make
  // them, the broker's relay otherwise; ReliableHub makes every switch (and the test's chaos) free of loss.
  const webSocketHub = new Vnf.WebSocketHub(new Vnf.WebSocketFactory(brokerUrl, { sessionStore: sessionStorage }));
  const rtcHub = new Vnf.RtcHub(webSocketHub, { relay: 'fallback', forceRelay, iceTimeoutMs: 1500, connectTimeoutMs: 5000 });
  const chaos = drop > 0 ? new Vnf.UnreliableHub(rtcHub, { seed, drop }) : rtcHub;
  const reliableHub = new Vnf.ReliableHub(chaos, { heartbeatIntervalMs: 500, heartbeatTimeoutMs: 4000, restoreTimeoutMs: 8000 });
  const hub = new Vnf.MultiplexHub(reliableHub);
  const endpoint = hub.openEndpoint(eva);
  const reliableEndpoint = reliableHub.openEndpoint(eva);
  const rtcEndpoint = rtcHub.openEndpoint(eva);
  // The registry client on the endpoint's own socket: this member's entry goes when the page does.
  const registry = new Vnf.WebSocketRegistryClient(webSocketHub.openEndpoint(eva).getWebSocketRpc());
  const room = new Vnf.Room(endpoint, { registry, name: roomName, info: { name: eva } });

  const joins = [];
  const leaves = [];
  const errors = [];
  let gaps = 0;
  /** Per tag, per sender: the indices of the broadcasts "<tag>:<i>" received, in arrival order. */
  const got = new Map();

  function describe(err) {
    return err && err.code ? err.code + ': ' + err.message : String((err && err.message) || err);
  }

  function renderMembers() {
    const list = $('members');
    list.textContent = '';
    for (const member of room.members.values()) {
      const item = document.createElement('li');
      item.textContent = member.eva + (member.self ? ' (you)' : '');
      list.append(item);
    }
  }

  function logLine(text) {
    const item = document.createElement('li');
    item.textContent = text;
    $('log').append(item);
    while ($('log').childElementCount > 200) $('log').firstElementChild.remove();
  }

  room.on('join', (member) => {
    joins.push(member.eva);
    renderMembers();
  });
  room.on('leave', (member) => {
    leaves.push(member.eva);
    renderMembers();
  });
  room.on('gap', (gap) => (gaps += gap.missed));
  room.on('error', (err) => errors.push('room ' + describe(err)));
  registry.on('error', (err) => errors.push('registry ' + describe(err)));
  room.onMessage = (event) => {
    if (typeof event.message !== 'string') return;
    if (event.message.startsWith('say:')) {
      logLine(event.sourceEva + ': ' + event.message.slice(4));
      return;
    }
    const colon = event.message.lastIndexOf(':');
    const tag = event.message.slice(0, colon);
    if (!got.has(tag)) got.set(tag, {});
    const byTag = got.get(tag);
    (byTag[event.sourceEva] = byTag[event.sourceEva] || []).push(Number(event.message.slice(colon + 1)));
  };

  $('room-name').textContent = roomName;
  /** 'joining', 'joined', or 'failed: <why>'. */
  let joinState = 'joining';
  const ready = room.join().then(
    () => {
      joinState = 'joined';
      $('status').textContent = 'Joined as ' + eva;
      renderMembers();
    },
    (err) => {
      joinState = 'failed: ' + describe(err);
      $('status').textContent = 'Could not join: ' + describe(err);
      $('status').className = 'error';
      throw err;
    },
  );
  ready.catch(() => undefined);

  $('send-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const text = $('text').value.trim();
    if (!text || !room.joined) return;
    room.broadcast('say:' + text);
    logLine(eva + ' (you): ' + text);
    $('text').value = '';
  });

  // Leaving on the way out lets the others see it at once; a tab that crashes leaves after the broker's grace.
  addEventListener('pagehide', () => {
    room.leave();
  });

  window.roomTest = {
    eva,
    ready,
    /** True once join() resolved, while the room is joined. */
    get joined() {
      return joinState === 'joined' && room.joined;
    },
    get joinState() {
      return joinState;
    },
    /** Broadcasts "<tag>:0" … "<tag>:<count-1>", a batch per task. */
    async broadcast(tag, count) {
      for (let i = 0; i < count; ) {
        const end = Math.min(count, i + 50);
        for (; i < end; i++) room.broadcast(tag + ':' + i);
        await new Promise((resolve) => setTimeout(resolve, 0));
      }
    },
    received: (tag) => got.get(tag) || {},
    counts(tag) {
      const byTag = got.get(tag) || {};
      const out = {};
      for (const sender of Object.keys(byTag)) out[sender] = byTag[sender].length;
      return out;
    },
    members: () => [...room.members.keys()].sort(),
    report() {
      const members = [...room.members.keys()].sort();
      const paths = {};
      for (const other of members) if (other !== eva) paths[other] = rtcEndpoint.destroyed ? null : rtcEndpoint.path(other);
      return { eva, joined: room.joined, members, joins: joins.slice(), leaves: leaves.slice(), paths, errors: errors.slice(), gaps };
    },
    leave: () => room.leave(),
    /** The objects themselves, for a test's failure messages. */
    debug: { room, endpoint, reliableEndpoint, rtcEndpoint },
  };
})();
