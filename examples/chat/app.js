/* global Vnf, ChatKeys */
// The VNF chat page. A room is a `Room` (@vnf/rooms): presence from registry entries that vanish with their owner,
// broadcasts every member gets once in each sender's order, and nobody forwarding for the others, so a room lives as
// long as it has members. Everything between members is end-to-end encrypted by a SecureHub beneath (each tab has
// its own key; fingerprints are shown to compare), over direct WebRTC links where they can be made and through the
// broker otherwise. Files of any size are streamed to each member with PeerStreams (@vnf/streams).
//
//   stack: MultiplexHub(MarshallerHub(SecureHub(ReliableRtcHub(WebSocketHub))))
(function () {
  'use strict';

  /** The lobby's directory: one entry per member and room (`<room>|<eva>`), vanishing with its owner. */
  const DIRECTORY = 'vnf-chat-rooms';
  const EVA_PREFIX = 'chat:';
  const NAME_RULE = /^[\p{L}\p{N} _-]{1,24}$/u;
  const ROOM_RULE = /^[^|]{1,40}$/;
  const SESSION = 'vnf-chat:me';
  const brokerUrl = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/webbroker/vnf-ws';

  const $ = (id) => document.getElementById(id);
  const view = { login: $('login'), lobby: $('lobby'), room: $('room') };

  /** Everything of the signed-in user; null before login. */
  let me = null;
  /** The room the user is in; null in the lobby. */
  let room = null;
  let sequence = 0;

  function show(name) {
    for (const [key, element] of Object.entries(view)) element.hidden = key !== name;
  }

  function status(text, isError) {
    $('status').textContent = text || '';
    $('status').classList.toggle('error', Boolean(isError));
  }

  function describe(err) {
    return err && err.code ? err.code + ': ' + err.message : String((err && err.message) || err);
  }

  function remember(value) {
    try {
      if (value) sessionStorage.setItem(SESSION, JSON.stringify(value));
      else sessionStorage.removeItem(SESSION);
    } catch {
      // storage disabled: a reload asks for the name again
    }
  }

  function remembered() {
    try {
      return JSON.parse(sessionStorage.getItem(SESSION) || 'null');
    } catch {
      return null;
    }
  }

  // ---- sign in -------------------------------------------------------------------------------------------

  async function signIn(name) {
    const eva = EVA_PREFIX + name;
    const identity = ChatKeys.identityFor(name);
    // The tab keeps its session token: a reload whose socket died uncleanly gets its eva back within the grace.
    const webSocketHub = new Vnf.WebSocketHub(new Vnf.WebSocketFactory(brokerUrl, { sessionStore: window.sessionStorage }));
    const reliableRtcHub = new Vnf.ReliableRtcHub(webSocketHub);
    const secureHub = new Vnf.SecureHub(reliableRtcHub, { identity, keyStore: ChatKeys.pins });
    const hub = new Vnf.MultiplexHub(new Vnf.MarshallerHub(secureHub));
    const endpoint = hub.openEndpoint(eva);
    // Opening the same eva on an inner hub returns the endpoint the stack opened there: the registry rides the
    // endpoint's own socket, the SecureEndpoint tells key changes, the RtcHub's endpoint direct from relayed.
    const registry = new Vnf.WebSocketRegistryClient(webSocketHub.openEndpoint(eva).getWebSocketRpc());
    const secureEndpoint = secureHub.openEndpoint(eva);
    const rtcEndpoint = reliableRtcHub.inner.openEndpoint(eva);
    const streams = new Vnf.PeerStreams(endpoint);
    const session = { name, eva, identity, hub, endpoint, secureEndpoint, rtcEndpoint, registry, streams, directory: new Map(), stopWatching: null };

    // A member that goes takes what was in flight from it (MarshallerHub says UNAVAILABLE): its leave says enough.
    endpoint.on('error', (err) => me === session && !Vnf.VnfError.is(err, 'UNAVAILABLE') && status(describe(err), true));
    endpoint.on('offline', () => me === session && connectionNotice('The connection to the server is lost; reconnecting…'));
    endpoint.on('online', () => me === session && connectionNotice(''));
    secureEndpoint.on('keyChanged', (event) => me === session && onKeyChanged(event));
    streams.on('transfer', (incoming) => me === session && onIncomingFile(incoming));
    streams.on('error', (err) => me === session && status(describe(err), true));

    try {
      // Watch before listing: a change made while the list is on its way is then never missed.
      const touched = new Set();
      session.stopWatching = await registry.watch(DIRECTORY, (change) => {
        touched.add(change.entry.name);
        if (change.type === 'removed') session.directory.delete(change.entry.name);
        else session.directory.set(change.entry.name, change.entry);
        if (me === session) renderRooms();
      });
      for (const entry of await registry.listEntries(DIRECTORY)) {
        if (!touched.has(entry.name)) session.directory.set(entry.name, entry);
      }
    } catch (err) {
      await hub.close();
      throw err;
    }
    return session;
  }

  async function enter(name) {
    $('enter').disabled = true;
    status('Connecting…');
    try {
      me = await signIn(name);
      remember({ name });
      $('whoami').textContent = 'Signed in as ' + name + ' · your key ' + me.identity.fingerprint;
      $('whoami').hidden = false;
      status('');
      renderRooms();
      show('lobby');
      $('room-name').focus();
      return true;
    } catch (err) {
      status(
        Vnf.VnfError.is(err, 'EVA_IN_USE') ? 'The name "' + name + '" is taken right now; pick another.' : 'Cannot connect to the server: ' + describe(err),
        true,
      );
      return false;
    } finally {
      $('enter').disabled = false;
    }
  }

  $('login-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const name = $('name').value.trim();
    if (!NAME_RULE.test(name)) {
      status('A name is 1 to 24 letters, digits, spaces, "-" or "_".', true);
      return;
    }
    await enter(name);
  });

  // Closing cleanly frees the name and tells the others at once; a reload signs in again with the same name.
  window.addEventListener('pagehide', () => {
    if (me) me.hub.close();
  });

  // ---- lobby ---------------------------------------------------------------------------------------------

  function roomsOf(directory) {
    const rooms = new Map();
    for (const entry of directory.values()) {
      const title = entry.value && entry.value.room;
      if (typeof title !== 'string') continue;
      if (!rooms.has(title)) rooms.set(title, []);
      rooms.get(title).push(entry.owner.startsWith(EVA_PREFIX) ? entry.owner.slice(EVA_PREFIX.length) : entry.owner);
    }
    return rooms;
  }

  function renderRooms() {
    const list = $('rooms');
    list.replaceChildren();
    const rooms = [...roomsOf(me.directory)].sort((a, b) => a[0].localeCompare(b[0]));
    for (const [title, names] of rooms) {
      const item = document.createElement('li');
      item.dataset.room = title;
      const label = document.createElement('span');
      label.className = 'room-name';
      label.textContent = title;
      const who = document.createElement('span');
      who.className = 'host';
      who.textContent = names.sort().join(', ');
      item.append(label, who);
      if (!room || room.title !== title) {
        const join = document.createElement('button');
        join.type = 'button';
        join.textContent = 'Join';
        join.setAttribute('aria-label', 'Join ' + title);
        join.addEventListener('click', () => enterRoom(title));
        item.append(join);
      }
      list.append(item);
    }
    $('no-rooms').hidden = rooms.length > 0;
  }

  $('create-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const title = $('room-name').value.trim();
    if (!ROOM_RULE.test(title)) {
      status('A room name is 1 to 40 characters, without "|".', true);
      return;
    }
    $('room-name').value = '';
    enterRoom(title);
  });

  // ---- room ----------------------------------------------------------------------------------------------

  async function enterRoom(title) {
    status('Joining "' + title + '"…');
    const chatRoom = new Vnf.Room(me.endpoint, { registry: me.registry, name: title, info: { name: me.name } });
    const entered = {
      title,
      chatRoom,
      /** Messages and files this user sent: id → { expected: Set of evas, acked: Set of evas, element }. */
      outbox: new Map(),
      /** Files in the conversation: id → their entry (see files below). */
      files: new Map(),
      /** Evas whose key changed and is not trusted (their connection is refused). */
      untrusted: new Map(),
      /** Object URLs of received files, revoked when the room is left. */
      urls: [],
      pathTimer: null,
    };
    chatRoom.onMessage = ({ sourceEva, message }) => room === entered && onRoomMessage(sourceEva, message);
    chatRoom.on('join', (member) => {
      if (room !== entered) return;
      notice(nameOf(member) + ' joined.');
      renderMembers();
    });
    chatRoom.on('leave', (member) => {
      if (room !== entered) return;
      notice(nameOf(member) + ' left.');
      renderMembers();
      for (const id of entered.outbox.keys()) updateDelivery(id);
    });
    chatRoom.on('error', (err) => room === entered && status(describe(err), true));
    try {
      await chatRoom.join();
      await me.registry.write({ collection: DIRECTORY, name: title + '|' + me.eva }, { room: title, name: me.name });
    } catch (err) {
      chatRoom.leave().catch(() => undefined);
      status('Cannot join "' + title + '": ' + describe(err), true);
      return;
    }
    room = entered;
    remember({ name: me.name, room: title });
    $('room-title').textContent = title;
    $('messages').replaceChildren();
    $('alerts').replaceChildren();
    // RtcHub reports no event when a connection moves between direct and relayed: a glance every second.
    entered.pathTimer = setInterval(renderPaths, 1000);
    renderMembers();
    renderRooms();
    show('room');
    status('');
    notice(chatRoom.members.size === 1 ? 'You opened "' + title + '". Others see it in their lobby now.' : 'You joined "' + title + '".');
    $('text').focus();
  }

  async function leaveRoom() {
    if (!room) return;
    const left = room;
    room = null;
    clearInterval(left.pathTimer);
    for (const file of left.files.values()) file.cancel && file.cancel('left the room');
    for (const url of left.urls) URL.revokeObjectURL(url);
    remember({ name: me.name });
    await Promise.all([
      left.chatRoom.leave().catch((err) => status(describe(err), true)),
      me.registry.remove({ collection: DIRECTORY, name: left.title + '|' + me.eva }).catch(() => undefined),
    ]);
    renderRooms();
    show('lobby');
  }

  $('leave').addEventListener('click', () => leaveRoom());

  /**
   * A member's name is its eva, which SecureHub proved (the key pinned for it), never the name its registry entry
   * claims: the server could rewrite that, and anyone can write any name there.
   */
  function nameOf(member) {
    return member.eva.startsWith(EVA_PREFIX) ? member.eva.slice(EVA_PREFIX.length) : member.eva;
  }

  function others() {
    return [...room.chatRoom.members.values()].filter((member) => !member.self);
  }

  function renderMembers() {
    const list = $('members');
    list.replaceChildren();
    for (const member of room.chatRoom.members.values()) {
      const item = document.createElement('li');
      item.dataset.eva = member.eva;
      const label = document.createElement('span');
      label.className = 'name';
      label.textContent = nameOf(member) + (member.self ? ' (you)' : '');
      item.append(label);
      const path = document.createElement('span');
      path.className = 'path';
      item.append(path);
      const key = document.createElement('details');
      key.className = 'key';
      const summary = document.createElement('summary');
      summary.textContent = 'Key';
      const full = document.createElement('code');
      full.className = 'fingerprint';
      key.append(summary, full);
      item.append(key);
      list.append(item);
    }
    renderPaths();
  }

  /** For each member: how this page reaches it (direct, through the server, not connected) and its key. */
  function renderPaths() {
    if (!room) return;
    for (const item of $('members').children) {
      const eva = item.dataset.eva;
      const path = item.querySelector('.path');
      const fingerprint = item.querySelector('.fingerprint');
      if (eva === me.eva) {
        path.dataset.path = 'self';
        path.textContent = '';
        fingerprint.textContent = me.identity.fingerprint;
        continue;
      }
      const untrusted = room.untrusted.get(eva);
      const way = untrusted ? 'untrusted' : me.endpoint.isConnected(eva) ? me.rtcEndpoint.path(eva) || 'connecting' : 'connecting';
      path.dataset.path = way;
      path.textContent =
        way === 'direct' ? 'direct' : way === 'relay' ? 'through the server' : way === 'untrusted' ? 'key changed: not trusted' : 'connecting…';
      const peer = me.secureEndpoint.peerIdentity(eva);
      fingerprint.textContent = untrusted ? untrusted.presentedFingerprint + ' (new, not trusted)' : peer ? peer.fingerprint : 'not connected yet';
    }
  }

  /** A known name presented another key: the connection is refused until the user trusts the new key. */
  function onKeyChanged(event) {
    if (event.accepted) return;
    const name = event.eva.startsWith(EVA_PREFIX) ? event.eva.slice(EVA_PREFIX.length) : event.eva;
    if (!room) return;
    if (!room.untrusted.has(event.eva)) {
      const alert = document.createElement('p');
      alert.className = 'alert';
      alert.dataset.eva = event.eva;
      alert.textContent =
        'Warning: ' + name + "'s key changed (was " + event.previousFingerprint + ', now ' + event.presentedFingerprint + '). It may be ' + name +
        ' on a new device, or someone else using the name. Messages to and from ' + name + ' are held back until you trust the new key. ';
      const trust = document.createElement('button');
      trust.type = 'button';
      trust.className = 'secondary';
      trust.textContent = 'Trust the new key';
      trust.addEventListener('click', () => {
        ChatKeys.forget(event.eva);
        room.untrusted.delete(event.eva);
        alert.remove();
        renderPaths();
      });
      alert.append(trust);
      $('alerts').append(alert);
    }
    room.untrusted.set(event.eva, event);
    renderPaths();
  }

  // ---- messages and their delivery state ----------------------------------------------------------------

  function onRoomMessage(sourceEva, message) {
    if (!message || typeof message !== 'object') return;
    const member = room.chatRoom.members.get(sourceEva);
    if (!member) return;
    switch (message.t) {
      case 'msg':
        if (typeof message.text !== 'string') return;
        renderMessage({ id: message.id, at: message.at, text: message.text, from: nameOf(member) }, false);
        reply(sourceEva, { t: 'ack', id: message.id });
        return;
      case 'file':
        announceFile(sourceEva, member, message);
        return;
      case 'ack':
        acknowledged(message.id, sourceEva);
        return;
      default:
    }
  }

  function reply(eva, message) {
    try {
      room.chatRoom.send(eva, message);
    } catch (err) {
      status('Cannot answer ' + eva + ': ' + describe(err), true);
    }
  }

  function send(text) {
    if (!room) return;
    const id = me.eva + '#' + ++sequence;
    const at = Date.now();
    const element = renderMessage({ id, at, text, from: me.name }, true);
    track(id, element);
    try {
      room.chatRoom.broadcast({ t: 'msg', id, at, text });
    } catch (err) {
      setDelivery(element, 'failed', 'not sent: ' + describe(err));
    }
  }

  /** Counts the members present now; each acknowledges (a message when shown, a file when verified). */
  function track(id, element) {
    room.outbox.set(id, { expected: new Set(others().map((member) => member.eva)), acked: new Set(), element });
    updateDelivery(id);
  }

  function acknowledged(id, byEva) {
    const entry = room.outbox.get(id);
    if (!entry) return;
    entry.acked.add(byEva);
    updateDelivery(id);
  }

  function updateDelivery(id) {
    const entry = room.outbox.get(id);
    if (!entry || entry.element.querySelector('.delivery').dataset.state === 'failed') return;
    // Members who left before receiving it no longer count.
    const expected = [...entry.expected].filter((eva) => room.chatRoom.members.has(eva) || entry.acked.has(eva));
    const acked = expected.filter((eva) => entry.acked.has(eva)).length;
    if (expected.length === 0) setDelivery(entry.element, 'delivered', 'sent, nobody else here');
    else if (acked === expected.length) setDelivery(entry.element, 'delivered', expected.length === 1 ? 'delivered' : 'delivered to all ' + acked);
    else setDelivery(entry.element, 'sending', acked === 0 ? 'sending…' : 'delivered to ' + acked + ' of ' + expected.length);
  }

  function setDelivery(element, state, label) {
    const delivery = element.querySelector('.delivery');
    delivery.dataset.state = state;
    delivery.textContent = label;
  }

  function notice(text) {
    const item = document.createElement('li');
    item.className = 'message notice';
    item.textContent = text;
    appendMessage(item, false);
  }

  function connectionNotice(text) {
    $('connection').textContent = text || '';
  }

  function renderMessage(item, mine) {
    const element = document.createElement('li');
    element.className = 'message' + (mine ? ' mine' : '');
    element.dataset.id = String(item.id);
    const meta = document.createElement('div');
    meta.className = 'meta';
    const author = document.createElement('span');
    author.className = 'author';
    author.textContent = mine ? 'You' : String(item.from);
    const time = document.createElement('span');
    time.textContent = new Date(Number(item.at) || Date.now()).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
    meta.append(author, time);
    if (mine) {
      const delivery = document.createElement('span');
      delivery.className = 'delivery';
      delivery.dataset.state = 'sending';
      delivery.textContent = 'sending…';
      meta.append(delivery);
    }
    element.append(meta);
    if (typeof item.text === 'string') {
      const body = document.createElement('div');
      body.className = 'body';
      body.textContent = item.text;
      element.append(body);
    }
    appendMessage(element, mine);
    return element;
  }

  /** Appends to the conversation, following it down unless the reader scrolled up to read older messages. */
  function appendMessage(element, mine) {
    const list = $('messages');
    const follow = mine || list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    list.append(element);
    if (follow) list.scrollTop = list.scrollHeight;
  }

  // ---- files ----------------------------------------------------------------------------------------------
  // A file goes to each member on its own stream (PeerStreams: bounded memory, progress, cancel, resume, SHA-256);
  // a `file` broadcast tells everyone it exists. Each receiver acknowledges once its copy arrived and verified.

  /** A progress bar, a state and a cancel button inside a conversation entry. */
  function fileControls(element, name, size) {
    const box = document.createElement('div');
    box.className = 'file';
    const label = document.createElement('span');
    label.className = 'file-name';
    label.textContent = name + ' (' + formatSize(size) + ') ';
    const bar = document.createElement('progress');
    bar.max = Math.max(1, size);
    bar.value = 0;
    bar.setAttribute('aria-label', 'Progress of ' + name);
    const state = document.createElement('span');
    state.className = 'file-state';
    const cancel = document.createElement('button');
    cancel.type = 'button';
    cancel.className = 'secondary';
    cancel.textContent = 'Cancel';
    cancel.setAttribute('aria-label', 'Cancel ' + name);
    box.append(label, bar, ' ', state, ' ', cancel);
    element.append(box);
    return {
      progress(bytes) {
        bar.value = bytes;
        state.textContent = Math.floor((bytes / Math.max(1, size)) * 100) + ' %';
      },
      state(text) {
        state.textContent = text;
      },
      end(text, failed) {
        state.textContent = text;
        state.classList.toggle('error', Boolean(failed));
        cancel.remove();
      },
      box,
      cancel,
    };
  }

  function formatSize(bytes) {
    if (bytes >= 1048576) return (bytes / 1048576).toFixed(1) + ' MiB';
    if (bytes >= 1024) return Math.round(bytes / 1024) + ' KiB';
    return bytes + ' B';
  }

  function shareFile(file) {
    if (!room) return;
    const id = me.eva + '#' + ++sequence;
    const element = renderMessage({ id, at: Date.now(), from: me.name }, true);
    const controls = fileControls(element, file.name || 'file', file.size);
    track(id, element);
    const targets = others();
    const transfers = targets.map((member) =>
      me.streams.send(member.eva, file, { name: file.name || 'file', type: file.type, header: { room: room.title, id } }),
    );
    const done = new Array(transfers.length).fill(0);
    const entry = {
      cancel: (reason) => transfers.forEach((transfer) => transfer.cancel(reason || 'the sender cancelled')),
    };
    room.files.set(id, entry);
    controls.cancel.addEventListener('click', () => entry.cancel('the sender cancelled'));
    transfers.forEach((transfer, i) => {
      // The bar shows the slowest member: the file is everywhere when it is full.
      transfer.on('progress', ({ bytes }) => {
        done[i] = bytes;
        controls.progress(Math.min(...done));
      });
    });
    const owner = room;
    Promise.allSettled(transfers.map((transfer) => transfer.done)).then((results) => {
      owner.files.delete(id);
      if (room !== owner) return;
      const failed = results.filter((result) => result.status === 'rejected');
      if (transfers.length === 0) controls.end('shared, nobody else here');
      else if (failed.length === 0) controls.end('100 % · sent, SHA-256 checked');
      else if (failed.every((result) => Vnf.VnfError.is(result.reason, 'CANCELLED'))) controls.end('cancelled', true);
      else controls.end('not delivered to ' + failed.length + ' of ' + transfers.length + ': ' + describe(failed[0].reason), true);
    });
    try {
      room.chatRoom.broadcast({ t: 'file', id, name: file.name || 'file', size: file.size, type: file.type });
    } catch (err) {
      entry.cancel('could not announce the file');
      setDelivery(element, 'failed', 'not sent: ' + describe(err));
    }
  }

  /** The entry of a file someone shares: made by its `file` broadcast or its stream, whichever comes first. */
  function fileEntry(sourceEva, member, id, name, size) {
    let entry = room.files.get(id);
    if (entry) return entry;
    const element = renderMessage({ id, at: Date.now(), from: nameOf(member) }, false);
    entry = { element, controls: fileControls(element, name, size), incoming: null, cancel: null, sourceEva };
    entry.controls.cancel.addEventListener('click', () => entry.cancel && entry.cancel('the receiver cancelled'));
    room.files.set(id, entry);
    return entry;
  }

  function announceFile(sourceEva, member, message) {
    if (typeof message.id !== 'string' || typeof message.name !== 'string' || typeof message.size !== 'number') return;
    fileEntry(sourceEva, member, message.id, message.name, message.size);
  }

  /** Files up to this size are taken at once; a larger one (or one of unknown size) waits for the user's Accept. */
  const AUTO_ACCEPT_BYTES = 256 * 1024 * 1024;
  /** The most a file may be, accepted or not: it is kept in the page (a Blob) until saved. */
  const MAX_FILE_BYTES = 4 * 1024 * 1024 * 1024;

  function onIncomingFile(incoming) {
    const header = incoming.meta.header || {};
    const member = room && room.chatRoom.members.get(incoming.meta.from);
    if (!room || header.room !== room.title || !member || typeof header.id !== 'string') {
      incoming.cancel('not in this room');
      return;
    }
    const size = incoming.meta.size;
    const entry = fileEntry(incoming.meta.from, member, header.id, incoming.meta.name, size || 0);
    entry.incoming = incoming;
    entry.cancel = (reason) => incoming.cancel(reason);
    if (size === null || size > MAX_FILE_BYTES) {
      incoming.cancel('too large for this page');
      entry.controls.end('refused: larger than ' + formatSize(MAX_FILE_BYTES) + ' (or of unknown size)', true);
      return;
    }
    if (size <= AUTO_ACCEPT_BYTES) return receiveFile(incoming, entry, header.id);
    // Large: nothing is taken until the user says so (the sender waits; its credit stays at the first window).
    const accept = document.createElement('button');
    accept.type = 'button';
    accept.textContent = 'Accept';
    accept.setAttribute('aria-label', 'Accept ' + (incoming.meta.name || 'file'));
    entry.controls.box.insertBefore(accept, entry.controls.cancel);
    entry.controls.state('waiting for you to accept');
    accept.addEventListener('click', () => {
      accept.remove();
      receiveFile(incoming, entry, header.id);
    });
  }

  function receiveFile(incoming, entry, id) {
    incoming.on('progress', ({ bytes }) => entry.controls.progress(bytes));
    const owner = room;
    Vnf.collectBlob(incoming.readable, incoming.meta.type, { maxBytes: MAX_FILE_BYTES }).then(
      (blob) => {
        owner.files.delete(id);
        if (room !== owner) return;
        entry.controls.progress(blob.size);
        entry.controls.end('100 % · received, SHA-256 checked');
        const link = document.createElement('a');
        link.href = URL.createObjectURL(blob);
        owner.urls.push(link.href);
        link.download = incoming.meta.name || 'file';
        link.textContent = 'Save ' + (incoming.meta.name || 'file');
        entry.controls.box.append(' ', link);
        reply(incoming.meta.from, { t: 'ack', id });
      },
      (err) => {
        owner.files.delete(id);
        if (room !== owner) return;
        entry.controls.end(Vnf.VnfError.is(err, 'CANCELLED') ? 'cancelled' : 'failed: ' + describe(err), true);
      },
    );
  }

  // ---- composing ----------------------------------------------------------------------------------------

  $('compose').addEventListener('submit', (event) => {
    event.preventDefault();
    const text = $('text').value;
    if (!text.trim()) return;
    $('text').value = '';
    send(text);
  });

  $('text').addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      $('compose').requestSubmit();
    }
  });

  $('text').addEventListener('paste', (event) => {
    const files = [...event.clipboardData.files];
    if (files.length === 0) return;
    event.preventDefault();
    for (const file of files) shareFile(file);
  });

  $('file').addEventListener('change', () => {
    for (const file of $('file').files) shareFile(file);
    $('file').value = '';
  });

  // ---- a reload comes back as it was ----------------------------------------------------------------------

  const saved = remembered();
  if (saved && typeof saved.name === 'string' && NAME_RULE.test(saved.name)) {
    $('name').value = saved.name;
    enter(saved.name).then((ok) => {
      if (ok && typeof saved.room === 'string' && ROOM_RULE.test(saved.room)) enterRoom(saved.room);
    });
  }
})();
