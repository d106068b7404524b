/* global Vnf */
// The VNF chat page. Rooms are registry entries (they vanish when their owner leaves); messages travel peer to
// peer over MarshallerHub(ReliableRtcHub(WebSocketHub)) with the broker carrying signaling, and relaying only when
// no direct WebRTC connection can be made. The room's owner is its hub: guests connect to it and it forwards
// messages and acknowledgements, so nothing is kept anywhere but in the pages.
(function () {
  'use strict';

  const ROOMS = 'vnf-chat-rooms';
  const EVA_PREFIX = 'chat:';
  const NAME_RULE = /^[\p{L}\p{N} _-]{1,24}$/u;
  const MAX_IMAGE_BYTES = 16 * 1024 * 1024;
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

  /** The connection notice in the header: shown while the broker connection is down, empty (and invisible) otherwise. */
  function connectionNotice(text) {
    $('connection').textContent = text || '';
  }

  function describe(err) {
    return err && err.code ? err.code + ': ' + err.message : String((err && err.message) || err);
  }

  // ---- sign in -------------------------------------------------------------------------------------------

  async function signIn(name) {
    const eva = EVA_PREFIX + name;
    const webSocketHub = new Vnf.WebSocketHub(new Vnf.WebSocketFactory(brokerUrl));
    const reliableRtcHub = new Vnf.ReliableRtcHub(webSocketHub);
    const hub = new Vnf.MarshallerHub(reliableRtcHub);
    const endpoint = hub.openEndpoint(eva);
    // Opening the same eva on an inner hub returns the endpoint the stack already opened there. The seed reaches
    // the registry over the endpoint's own socket this way; the RtcHub's endpoint tells direct from relayed.
    const registry = new Vnf.WebSocketRegistryClient(webSocketHub.openEndpoint(eva).getWebSocketRpc());
    const rtcEndpoint = reliableRtcHub.inner.openEndpoint(eva);
    const session = { name, eva, hub, endpoint, rtcEndpoint, registry, rooms: new Map(), stopWatching: null };

    endpoint.on('error', (err) => {
      if (me === session) status(describe(err), true);
    });
    endpoint.on('offline', () => me === session && connectionNotice('Connection to the server lost; reconnecting…'));
    endpoint.on('online', () => me === session && connectionNotice(''));
    endpoint.onMessage = (event) => me === session && onMessage(event.sourceEva, event.message);
    endpoint.onConnectionLost((peerEva) => me === session && onConnectionLost(peerEva));

    try {
      // Watch before listing: a change made while the list is on its way is then never missed.
      const touched = new Set();
      session.stopWatching = await registry.watch(ROOMS, (change) => {
        touched.add(change.entry.name);
        if (change.type === 'removed') session.rooms.delete(change.entry.name);
        else session.rooms.set(change.entry.name, change.entry);
        if (me === session) renderRooms();
      });
      for (const entry of await registry.listEntries(ROOMS)) {
        if (!touched.has(entry.name)) session.rooms.set(entry.name, entry);
      }
    } catch (err) {
      await hub.close();
      throw err;
    }
    return session;
  }

  $('login-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const name = $('name').value.trim();
    if (!NAME_RULE.test(name)) {
      status('A name is 1 to 24 letters, digits, spaces, "-" or "_".', true);
      return;
    }
    $('enter').disabled = true;
    status('Connecting…');
    try {
      me = await signIn(name);
      $('whoami').textContent = 'Signed in as ' + name;
      $('whoami').hidden = false;
      status('');
      renderRooms();
      show('lobby');
      $('room-name').focus();
    } catch (err) {
      status(
        Vnf.VnfError.is(err, 'EVA_IN_USE') ? 'The name "' + name + '" is taken right now; pick another.' : 'Cannot connect: ' + describe(err),
        true,
      );
    } finally {
      $('enter').disabled = false;
    }
  });

  // The broker removes this user's rooms when the socket closes; closing it ourselves makes that immediate.
  window.addEventListener('pagehide', () => {
    if (me) me.hub.close();
  });

  // ---- lobby ---------------------------------------------------------------------------------------------

  function renderRooms() {
    const list = $('rooms');
    list.replaceChildren();
    const entries = [...me.rooms.values()].sort((a, b) => a.name.localeCompare(b.name));
    for (const entry of entries) {
      const item = document.createElement('li');
      item.dataset.room = entry.name;
      const title = document.createElement('span');
      title.className = 'room-name';
      title.textContent = entry.name;
      const host = document.createElement('span');
      host.className = 'host';
      host.textContent = 'by ' + ((entry.value && entry.value.hostName) || entry.owner);
      item.append(title, host);
      if (entry.owner !== me.eva) {
        const join = document.createElement('button');
        join.type = 'button';
        join.textContent = 'Join';
        join.addEventListener('click', () => joinRoom(entry, join));
        item.append(join);
      }
      list.append(item);
    }
    $('no-rooms').hidden = entries.length > 0;
  }

  $('create-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const title = $('room-name').value.trim();
    if (!title) return;
    $('create').disabled = true;
    try {
      const result = await me.registry.createEntry({ collection: ROOMS, name: title }, { hostName: me.name });
      if (result === Vnf.Global.ALREADY_EXISTS) {
        status('A room called "' + title + '" is already open; join it or pick another name.', true);
        return;
      }
      $('room-name').value = '';
      status('');
      enterRoom({ title, hostEva: me.eva, isHost: true });
    } catch (err) {
      status('Cannot create the room: ' + describe(err), true);
    } finally {
      $('create').disabled = false;
    }
  });

  async function joinRoom(entry, button) {
    button.disabled = true;
    status('Joining "' + entry.name + '"…');
    const result = await me.endpoint.openConnection(entry.owner);
    button.disabled = false;
    if (result.status !== 'CONNECTED') {
      status('Cannot reach the host of "' + entry.name + '" (' + result.status + (result.reason ? ', ' + result.reason : '') + ').', true);
      return;
    }
    status('');
    enterRoom({ title: entry.name, hostEva: entry.owner, isHost: false });
    sendTo(entry.owner, { t: 'hello', name: me.name });
  }

  // ---- room ----------------------------------------------------------------------------------------------

  function enterRoom({ title, hostEva, isHost }) {
    room = {
      title,
      hostEva,
      isHost,
      members: new Map([[me.eva, me.name]]),
      /** Messages this user wrote: id → { expected: Set of evas, acked: Set of evas, element }. */
      outbox: new Map(),
      // RtcHub reports no event when a connection moves between direct and relayed; a glance every 2 s is plenty.
      pathTimer: setInterval(renderPaths, 2000),
    };
    $('room-title').textContent = title;
    $('messages').replaceChildren();
    renderMembers();
    show('room');
    notice(isHost ? 'You opened this room. Others see it in their lobby now.' : 'You joined the room.');
    $('text').focus();
  }

  function leaveRoom(reason) {
    if (!room) return;
    const left = room;
    room = null;
    clearInterval(left.pathTimer);
    if (left.isHost) {
      for (const eva of left.members.keys()) if (eva !== me.eva) me.endpoint.closeConnection(eva);
      me.registry.deleteEntry({ collection: ROOMS, name: left.title }).catch((err) => status(describe(err), true));
    } else {
      me.endpoint.closeConnection(left.hostEva);
    }
    renderRooms();
    show('lobby');
    status(reason || '');
  }

  $('leave').addEventListener('click', () => leaveRoom());

  function renderMembers() {
    const list = $('members');
    list.replaceChildren();
    for (const [eva, name] of room.members) {
      const item = document.createElement('li');
      item.dataset.eva = eva;
      const label = document.createElement('span');
      label.className = 'name';
      label.textContent = name;
      item.append(label);
      const tags = [eva === room.hostEva ? 'host' : '', eva === me.eva ? 'you' : ''].filter(Boolean);
      if (tags.length) {
        const tag = document.createElement('span');
        tag.className = 'tag';
        tag.textContent = ' (' + tags.join(', ') + ')';
        item.append(tag);
      }
      const path = document.createElement('span');
      path.className = 'path';
      item.append(path);
      list.append(item);
    }
    renderPaths();
  }

  /** How this page reaches each peer it is connected to: a direct data channel, or relayed by the server. */
  function renderPaths() {
    if (!room) return;
    for (const item of $('members').children) {
      const path = item.dataset.eva === me.eva ? null : me.rtcEndpoint.path(item.dataset.eva);
      const element = item.querySelector('.path');
      element.dataset.path = path || '';
      element.textContent = path === 'direct' ? 'direct' : path === 'relay' ? 'via server' : '';
    }
  }

  function guests() {
    return [...room.members.keys()].filter((eva) => eva !== me.eva && eva !== room.hostEva);
  }

  /** Sends over the chat stack; a failure is shown rather than thrown into a DOM handler. */
  function sendTo(eva, message) {
    try {
      me.endpoint.send(eva, message);
      return true;
    } catch (err) {
      status('Cannot send: ' + describe(err), true);
      return false;
    }
  }

  function broadcastMembers() {
    const members = [...room.members].map(([eva, name]) => ({ eva, name }));
    for (const eva of guests()) sendTo(eva, { t: 'members', members });
  }

  function onMessage(sourceEva, message) {
    if (!message || typeof message !== 'object') return;
    if (!room) {
      // A guest still connected to a room this user closed: tell it to go.
      me.endpoint.closeConnection(sourceEva);
      return;
    }
    if (room.isHost) onMessageAsHost(sourceEva, message);
    else if (sourceEva === room.hostEva) onMessageAsGuest(message);
  }

  function onMessageAsHost(sourceEva, message) {
    switch (message.t) {
      case 'hello':
        if (typeof message.name !== 'string') return;
        room.members.set(sourceEva, message.name);
        renderMembers();
        notice(message.name + ' joined.');
        broadcastMembers();
        return;
      case 'msg': {
        if (!room.members.has(sourceEva)) return;
        const { id, at, text, image } = message.item || {};
        const item = { id, at, text, image, fromEva: sourceEva, from: room.members.get(sourceEva) };
        renderMessage(item, false);
        sendTo(sourceEva, { t: 'ack', id: item.id, by: me.eva });
        for (const eva of guests()) if (eva !== sourceEva) sendTo(eva, { t: 'msg', item });
        return;
      }
      case 'ack':
        // A guest received a message: the author is this host or another guest.
        if (message.author === me.eva) acknowledged(message.id, sourceEva);
        else if (room.members.has(message.author)) sendTo(message.author, { t: 'ack', id: message.id, by: sourceEva });
        return;
      default:
    }
  }

  function onMessageAsGuest(message) {
    switch (message.t) {
      case 'members':
        room.members = new Map(message.members.map((m) => [m.eva, m.name]));
        renderMembers();
        for (const eva of room.outbox.keys()) updateDelivery(eva);
        return;
      case 'msg':
        renderMessage(message.item, false);
        sendTo(room.hostEva, { t: 'ack', id: message.item.id, author: message.item.fromEva });
        return;
      case 'ack':
        acknowledged(message.id, message.by);
        return;
      default:
    }
  }

  function onConnectionLost(peerEva) {
    if (!room) return;
    if (!room.isHost && peerEva === room.hostEva) {
      leaveRoom('The host left, so "' + room.title + '" is closed.');
      return;
    }
    if (room.isHost && room.members.has(peerEva)) {
      const name = room.members.get(peerEva);
      room.members.delete(peerEva);
      renderMembers();
      notice(name + ' left.');
      broadcastMembers();
      for (const id of room.outbox.keys()) updateDelivery(id);
    }
  }

  // ---- messages and their delivery state ----------------------------------------------------------------

  function send(content) {
    if (!room) return;
    const item = { id: me.eva + '#' + ++sequence, from: me.name, fromEva: me.eva, at: Date.now(), ...content };
    const expected = new Set([...room.members.keys()].filter((eva) => eva !== me.eva));
    const element = renderMessage(item, true);
    room.outbox.set(item.id, { expected, acked: new Set(), element });
    const targets = room.isHost ? guests() : [room.hostEva];
    const sent = targets.map((eva) => sendTo(eva, { t: 'msg', item }));
    if (!sent.every(Boolean)) setDelivery(element, 'failed', 'not sent');
    else updateDelivery(item.id);
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
    // People who left before receiving it no longer count.
    const expected = [...entry.expected].filter((eva) => room.members.has(eva) || entry.acked.has(eva));
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
    if (item.image && item.image.data instanceof Uint8Array && /^image\//.test(item.image.mime)) {
      const img = document.createElement('img');
      img.alt = String(item.image.name || 'image');
      img.src = URL.createObjectURL(new Blob([item.image.data], { type: item.image.mime }));
      element.append(img);
    }
    appendMessage(element, mine);
    return element;
  }

  /** Appends to the conversation, following it down unless the reader scrolled up to read older messages. */
  function appendMessage(element, mine) {
    const list = $('messages');
    const follow = mine || list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    list.append(element);
    if (!follow) return;
    list.scrollTop = list.scrollHeight;
    // An image gets its height only once decoded.
    const img = element.querySelector('img');
    if (img) img.addEventListener('load', () => (list.scrollTop = list.scrollHeight), { once: true });
  }

  // ---- composing ----------------------------------------------------------------------------------------

  $('compose').addEventListener('submit', (event) => {
    event.preventDefault();
    const text = $('text').value;
    if (!text.trim()) return;
    $('text').value = '';
    send({ text });
  });

  $('text').addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      $('compose').requestSubmit();
    }
  });

  async function sendImage(file) {
    if (file.size > MAX_IMAGE_BYTES) {
      status('That image is ' + Math.round(file.size / 1048576) + ' MiB; the limit here is 16 MiB.', true);
      return;
    }
    // Binary travels inside the JSON message: MarshallerHub chunks it to the data channel's frame size.
    const data = new Uint8Array(await file.arrayBuffer());
    send({ image: { name: file.name || 'pasted image', mime: file.type, data } });
  }

  $('text').addEventListener('paste', (event) => {
    const files = [...event.clipboardData.files].filter((file) => file.type.startsWith('image/'));
    if (files.length === 0) return;
    event.preventDefault();
    for (const file of files) sendImage(file);
  });

  $('file').addEventListener('change', () => {
    for (const file of $('file').files) if (file.type.startsWith('image/')) sendImage(file);
    $('file').value = '';
  });
})();
