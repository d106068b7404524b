// The mutants of scripts/conformance-mutants.mjs: each breaks one promised rule in one place, and names the
// conformance suite to run and a fragment of the name of the test that must then fail.
// packages/conformance/test/mutants.test.ts checks on every `npm test` that each mutation point still exists
// exactly once, so a refactor cannot silently disarm a mutant.

/** Conformance suites the mutants run against, each a test file of the repository. */
const suites = {
  inBrowser: 'packages/in-browser-hub/test/conformance.test.ts',
  // Backpressure, drain and the leak tracker over a layer that emits them: MarshallerHub over InBrowserHub.
  marshaller: 'packages/marshaller-hub/test/conformance.test.ts',
  // A real broker on 127.0.0.1: online/offline after a cut transport, drain from a real socket, sockets released.
  webSocket: 'packages/websocket-hub/test/conformance.test.ts',
  // Real WebRTC over a real broker (run inside the loopback-only namespace).
  rtc: 'packages/rtc-hub/test/conformance.test.ts',
  // The service suite (PeerServices) on MultiplexHub(InBrowserHub) with InBrowserRegistry, and over MarshallerHub.
  services: 'packages/services/test/conformance.test.ts',
  // The sub-protocol suite on MultiplexHub over InBrowserHub and over MarshallerHub.
  multiplex: 'packages/multiplex-hub/test/conformance.test.ts',
  // ReliableHub over InBrowserHub, and over UnreliableHub with drop, duplicate and reorder (multicast at most once there).
  reliable: 'packages/reliable-hub/test/conformance.test.ts',
  // UnreliableHub over InBrowserHub with no rules, a constant delay and a bandwidth cap, with its black hole.
  unreliable: 'packages/unreliable-hub/test/conformance.test.ts',
  // The Router contract on MemoryRouter (shared by two brokers of one process).
  router: 'packages/broker/test/router.conformance.test.ts',
  // The RegistryStorage contract on MemoryRegistryStorage.
  storage: 'packages/registry/test/storage.conformance.test.ts',
  // The registry suite (with its coordination tests) on InBrowserRegistry and on WebSocketRegistryClient + RegistryService over an in-process rpc.
  registry: 'packages/registry/test/conformance.test.ts',
  // The registry suite over a real broker on 127.0.0.1 (run inside the loopback-only namespace).
  brokerRegistry: 'packages/broker/test/registry.conformance.test.ts',
  // The room suite (Room) on MultiplexHub(InBrowserHub) with InBrowserRegistry, and over MarshallerHub.
  rooms: 'packages/rooms/test/conformance.test.ts',
  // The room suite through a real broker: bare WebSocketHub and a 5 %-drop chaos stack under ReliableHub.
  roomsBroker: 'packages/rooms/test/conformance.broker.test.ts',
  // hubConformance on SecureHub over InBrowserHub, MarshallerHub, a duplicating UnreliableHub (ordered: false) and a
  // real broker; integrityConformance (tamper, replay, reorder, forgery beneath it; an eva back with another key).
  secure: 'packages/secure-hub/test/conformance.test.ts',
  // The Router contract on RedisRouter (two routers on one redis-server the test starts).
  redisRouter: 'packages/broker-redis/test/RedisRouter.test.ts',
  // The RegistryStorage contract on RedisRegistryStorage (two handles on one prefix, and one on a given client).
  redisStorage: 'packages/broker-redis/test/RedisRegistryStorage.test.ts',
  // The stream suite (PeerStreams) on MultiplexHub(UnreliableHub(InBrowserHub)), and over MarshallerHub.
  streams: 'packages/streams/test/conformance.test.ts',
};

const core = 'packages/core/src/AbstractEndpoint.ts';
const listeners = 'packages/core/src/listeners.ts';
const payload = 'packages/core/src/payload.ts';
const abstractHub = 'packages/core/src/AbstractHub.ts';
const hub = 'packages/in-browser-hub/src/InBrowserEndpoint.ts';
const hubClass = 'packages/in-browser-hub/src/InBrowserHub.ts';
const marshaller = 'packages/marshaller-hub/src/MarshallerEndpoint.ts';
const wsEndpoint = 'packages/websocket-hub/src/WebSocketEndpoint.ts';
const wsChannel = 'packages/websocket-hub/src/channel.ts';
const rtcEndpoint = 'packages/rtc-hub/src/RtcEndpoint.ts';
const multiplexEndpoint = 'packages/multiplex-hub/src/MultiplexEndpoint.ts';
const reliableDatagrams = 'packages/reliable-hub/src/Datagrams.ts';
const unreliableEndpoint = 'packages/unreliable-hub/src/UnreliableEndpoint.ts';
const serviceProvider = 'packages/services/src/ServiceProvider.ts';
const serviceCaller = 'packages/services/src/ServiceCaller.ts';
const peerServices = 'packages/services/src/PeerServices.ts';
const memoryRouter = 'packages/broker/src/MemoryRouter.ts';
const memoryStorage = 'packages/registry/src/MemoryRegistryStorage.ts';
const registryRules = 'packages/registry/src/RegistryRules.ts';
const registryMatch = 'packages/registry/src/registryMatch.ts';
const writeWaiters = 'packages/registry/src/WriteWaiters.ts';
const watchFeed = 'packages/registry/src/WatchFeed.ts';
const registryJson = 'packages/registry/src/registryJson.ts';
const inBrowserRegistryClient = 'packages/registry/src/InBrowserRegistryClient.ts';
const wsRegistryClient = 'packages/registry/src/WebSocketRegistryClient.ts';
const remoteWatches = 'packages/registry/src/RemoteWatches.ts';
const registryOptions = 'packages/registry/src/registryOptions.ts';
const room = 'packages/rooms/src/Room.ts';
const streamIncoming = 'packages/streams/src/IncomingTransfer.ts';
const streamOutgoing = 'packages/streams/src/OutgoingTransfer.ts';
const roomIncoming = 'packages/rooms/src/IncomingStreams.ts';
const roomOutgoing = 'packages/rooms/src/OutgoingStream.ts';
const roomPresence = 'packages/rooms/src/Presence.ts';
const secureSession = 'packages/secure-hub/src/TransportSession.ts';
const secureHandshakes = 'packages/secure-hub/src/Handshakes.ts';
const secureEndpoint = 'packages/secure-hub/src/SecureEndpoint.ts';
const secureSenderKeys = 'packages/secure-hub/src/SenderKeys.ts';
const secureReceivedKeys = 'packages/secure-hub/src/ReceivedKeys.ts';
const redisRouterScripts = 'packages/broker-redis/src/routerScripts.ts';
const redisStorageScripts = 'packages/broker-redis/src/registry/scripts.ts';
const brokerOutbound = 'packages/broker/src/outbound.ts';

const scheduled = 'this.network.schedule(() => {\n      peer.received(this, payload);';

/** @type {{ rule: string, file: string, from: string, to: string, suite: keyof typeof suites, expect: string }[]} */
const mutants = [
  { rule: 'delivery inside send', file: hub, from: scheduled, to: 'peer.received(this, payload);\n    this.network.schedule(() => {', suite: 'inBrowser', expect: 'asynchronous' },
  { rule: 'binary not copied', file: hub, from: ': copyBinary(message as Uint8Array | ArrayBuffer)', to: ': (message as Uint8Array)', suite: 'inBrowser', expect: 'binary arrives as a Uint8Array copy' },
  { rule: 'absent target connects', file: hub, from: "resolve({ status: ConnectionStatus.FAILED, targetEva, reason: 'NOT_FOUND' });", to: 'resolve({ status: ConnectionStatus.CONNECTED, targetEva });', suite: 'inBrowser', expect: 'NOT_FOUND' },
  { rule: 'send without connection allowed', file: core, from: 'if (!this.connected.has(targetEva)) {\n      throw', to: 'if (false) {\n      throw', suite: 'inBrowser', expect: 'NOT_CONNECTED at the call' },
  { rule: 'lost fired twice', file: core, from: "this.emitSafely('connectionLost', peerEva);", to: "this.emitSafely('connectionLost', peerEva); this.emitSafely('connectionLost', peerEva);", suite: 'inBrowser', expect: 'exactly once, and not on the closing side' },
  { rule: 'destroy does not tell peers', file: hub, from: 'for (const eva of peers) this.disconnect(eva);', to: '', suite: 'inBrowser', expect: 'destroy() fires onConnectionLost' },
  { rule: 'eva reuse allowed', file: abstractHub, from: 'if (this.shareable.delete(eva)) return existing;', to: 'return existing;', suite: 'inBrowser', expect: 'EVA_IN_USE' },
  { rule: 'calls after destroy allowed', file: core, from: 'if (this.isDestroyed) {\n      throw', to: 'if (false) {\n      throw', suite: 'inBrowser', expect: 'after destroy() every call throws DESTROYED' },
  { rule: 'isConnected after destroy answers', file: core, from: "this.assertAlive('isConnected');", to: '', suite: 'inBrowser', expect: 'after destroy() every call throws DESTROYED' },
  { rule: 'bufferedAmount after destroy answers', file: core, from: "this.assertAlive('bufferedAmount');", to: '', suite: 'marshaller', expect: 'after destroy() every call throws DESTROYED' },
  { rule: 'callback called twice', file: core, from: 'if (cb) this.callListener(() => cb(own));', to: 'if (cb) { this.callListener(() => cb(own)); this.callListener(() => cb(own)); }', suite: 'inBrowser', expect: 'calls the callback exactly once' },
  { rule: 'no implicit accept', file: hub, from: 'target.accepted(this);', to: '', suite: 'inBrowser', expect: 'accepts implicitly' },
  { rule: 'messages reordered', file: hub, from: scheduled, to: "if (typeof payload === 'string' && payload.endsWith('7')) setTimeout(() => peer.received(this, payload), 1);\n    this.network.schedule(() => {\n      if (!(typeof payload === 'string' && payload.endsWith('7'))) peer.received(this, payload);", suite: 'inBrowser', expect: 'in the order sent' },
  { rule: 'messages duplicated', file: hub, from: scheduled, to: "this.network.schedule(() => {\n      peer.received(this, payload); if (payload === 'a3') peer.received(this, payload);", suite: 'inBrowser', expect: 'each exactly once (' },
  { rule: 'timer leaked on close', file: hubClass, from: 'this.timers.clear();', to: 'this.timers.clear(); setInterval(() => undefined, 1000);', suite: 'inBrowser', expect: 'no timer or socket' },
  { rule: 'socket left open on close', file: wsChannel, from: 'this.outgoing.drop();\n    try {\n      socket.close(CloseCode.NORMAL);', to: 'this.outgoing.drop();\n    try {\n      this.finishClose();', suite: 'webSocket', expect: 'no timer or socket' },
  { rule: 'payload not validated', file: core, from: 'validateWirePayload(message, this.maxPayloadSize);', to: '', suite: 'inBrowser', expect: 'INVALID_PAYLOAD' },
  { rule: 'size limit not enforced', file: core, from: 'this.maxPayloadSize = options.maxPayloadSize ?? Infinity;', to: 'this.maxPayloadSize = Infinity;', suite: 'inBrowser', expect: 'TOO_LARGE' },
  { rule: 'listener error not reported', file: listeners, from: "if (emitter.listenerCount('error') > 0) emitter.emit('error', error);", to: "if (false) emitter.emit('error', error);", suite: 'inBrowser', expect: 'throwing onMessage' },
  { rule: 'lost listener error escapes', file: core, from: "    this.emitSafely('connectionLost', peerEva);", to: "    this.emit('connectionLost', peerEva);", suite: 'inBrowser', expect: 'throwing connection or connectionLost' },
  { rule: 'drain listener error escapes', file: core, from: "      this.emitSafely('drain', peer);", to: "      this.emit('drain', peer);", suite: 'marshaller', expect: 'throwing drain listener' },
  { rule: 'drain listener error escapes over a real socket', file: core, from: "      this.emitSafely('drain', peer);", to: "      this.emit('drain', peer);", suite: 'webSocket', expect: 'throwing drain listener' },
  { rule: 'drain never emitted', file: wsEndpoint, from: '    this.channel.watchDrain(this.lowWaterMark);\n  }', to: '  }', suite: 'webSocket', expect: 'throwing drain listener' },
  { rule: 'drain before the low mark', file: core, from: '!this.drained(peer, this.drainLow)', to: '!this.drained(peer, this.drainHigh)', suite: 'inBrowser', expect: 'drain keeps the marks' },
  { rule: 'drain owed below the high mark', file: core, from: 'this.queuedBytes(targetEva) > this.drainHigh', to: 'this.queuedBytes(targetEva) >= 0', suite: 'inBrowser', expect: 'drain keeps the marks' },
  { rule: 'offline emitted twice', file: wsEndpoint, from: "    this.emitSafely('offline');", to: "    this.emitSafely('offline'); this.emitSafely('offline');", suite: 'webSocket', expect: 'cut transport' },
  { rule: 'online not emitted after a reconnect', file: wsEndpoint, from: "if (this.wasOnline) this.emitSafely('online');", to: '', suite: 'webSocket', expect: 'cut transport' },
  { rule: 'RtcHub hides offline', file: rtcEndpoint, from: "signaling.on('offline', this.onSignalingOffline, this);", to: '', suite: 'rtc', expect: 'cut transport' },
  { rule: 'BOM stripped from a received string', file: payload, from: "if (text.indexOf('\\uFFFD') === -1) return text;", to: "if (text.indexOf('\\uFFFD') === -1) return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;", suite: 'webSocket', expect: 'strings arrive intact' },
  { rule: 'lone surrogate carried by a wire hub', file: payload, from: "if (typeof payload === 'string' && !isWellFormedString(payload)) {", to: 'if (false) {', suite: 'inBrowser', expect: 'INVALID_PAYLOAD' },
  { rule: 'methods need this', file: core, from: 'this.send = this.send.bind(this);', to: '', suite: 'inBrowser', expect: 'unbound' },
  { rule: 'close leaves endpoints open', file: abstractHub, from: 'for (const endpoint of open) endpoint.destroy();', to: '', suite: 'inBrowser', expect: 'hub.close() destroys' },
  { rule: 'closer told of its own close', file: core, from: 'this.drainOwed.delete(targetEva);\n    this.disconnect(targetEva);', to: "this.drainOwed.delete(targetEva);\n    this.disconnect(targetEva); this.emit('connectionLost', targetEva);", suite: 'inBrowser', expect: 'not on the closing side' },
  { rule: 'wrong sourceEva', file: hub, from: 'this.deliver(source.eva, payload);', to: "this.deliver(source.eva, typeof payload === 'string' && payload.startsWith('a-to') ? payload + '!' : payload);", suite: 'inBrowser', expect: 'only the messages sent to it' },
  { rule: 'connect callback never called on failure', file: core, from: 'const own = { ...event };\n      if (cb)', to: "const own = { ...event };\n      if (cb && own.status === 'CONNECTED')", suite: 'inBrowser', expect: 'NOT_FOUND' },
  { rule: 'write without its condition', file: memoryStorage, from: "const holds = 'absent' in condition ? current === undefined : current !== undefined && current.version === condition.version;", to: 'const holds = true;', suite: 'storage', expect: 'creates only what is absent' },
  { rule: 'quota not checked with the write', file: memoryStorage, from: '    if (quota) {\n      // Who pays', to: '    if (false) {\n      // Who pays', suite: 'storage', expect: "checks an owner's quota" },
  { rule: 'takeover without the token', file: memoryRouter, from: 'if (proof !== undefined && sameToken(proof, current.session)) {', to: 'if (true) {', suite: 'router', expect: 'refuses a claim of a held eva' },
  // The registry's coordination guarantees (registryCoordinationConformance.ts).
  { rule: 'subset match ignores nested fields', file: registryMatch, from: 'if (isPlainObject(want) ? !matchesFields(got, want) : !jsonEqual(got, want)) return false;', to: 'if (isPlainObject(want) ? false : !jsonEqual(got, want)) return false;', suite: 'registry', expect: 'nested objects by subset' },
  { rule: 'JSON equality depends on key order', file: registryMatch, from: '  const kb = Object.keys(b);\n', to: '  const kb = Object.keys(b);\n  if (JSON.stringify(a) !== JSON.stringify(b)) return false;\n', suite: 'registry', expect: 'arrays and other values by equality' },
  { rule: 'CONFLICT without the current revision', file: registryOptions, from: 'revision: current?.revision ?? null };', to: 'revision: null };', suite: 'registry', expect: 'CONFLICT with the current version and revision' },
  { rule: 'a conditional write not atomic', file: memoryStorage, from: "const holds = 'absent' in condition ? current === undefined : current !== undefined && current.version === condition.version;", to: 'const holds = true;', suite: 'registry', expect: 'exactly one of many concurrent creates' },
  { rule: 'a waiting write ignores its condition', file: registryRules, from: 'if (!holds(when, current)) return waiting.wait ? null : conflict(current);', to: 'if (!holds(when, current) && !waiting.wait) return conflict(current);', suite: 'registry', expect: 'resolves only once the condition holds' },
  { rule: 'a waiter wins out of order', file: writeWaiters, from: 'for (const waiter of [...queue.waiters]) {', to: 'for (const waiter of [...queue.waiters].reverse()) {', suite: 'registry', expect: 'first come first served' },
  { rule: 'two waiters both win', file: writeWaiters, from: '          if (result) break;', to: '          if (result) { for (const other of queue.waiters.splice(0)) other.resolve(result); break; }', suite: 'registry', expect: 'exactly one wins, the others keep waiting' },
  { rule: 'a timed-out waiter stays queued', file: writeWaiters, from: 'this.remove(id, waiter);\n        waiter.reject(error);', to: 'waiter.reject(error);', suite: 'registry', expect: 'rejects TIMEOUT and writes nothing later' },
  { rule: 'a closing client keeps waiting', file: inBrowserRegistryClient, from: '    this.waits.abort();\n', to: '\n', suite: 'registry', expect: 'a waiter whose client closes' },
  { rule: 'a closing session keeps waiting', file: 'packages/registry/src/ServiceSession.ts', from: 'for (const wait of this.waits.values()) wait.controller.abort();', to: '', suite: 'registry', expect: 'a waiter whose session ends uncleanly' },
  { rule: 'wills applied on a clean close (in-page)', file: inBrowserRegistryClient, from: "this.closing = this.shutDown(options.applyWills === true ? 'wills' : 'clean');", to: "this.closing = this.shutDown('wills');", suite: 'registry', expect: 'a clean close does not apply wills' },
  { rule: 'wills applied on a clean close (over rpc)', file: wsRegistryClient, from: 'if (!this.closing) this.closing = this.shutDown(options.applyWills === true);', to: 'if (!this.closing) this.closing = this.shutDown(true);', suite: 'registry', expect: 'a clean close does not apply wills' },
  { rule: 'a will not cleared by a later write', file: memoryStorage, from: '    if (value.will) record.will = { json: value.will.json, bytes: value.will.bytes };', to: '    const will = value.will ?? current?.will;\n    if (will) record.will = { json: will.json, bytes: will.bytes };', suite: 'registry', expect: 'a later write without a will clears it' },
  { rule: 'retained needs no permission', file: registryRules, from: 'retained: !!value?.retained || !!current?.retained || (value?.will !== undefined && value.will.json !== null),', to: 'retained: false,', suite: 'registry', expect: 'refuses retain: true and a will with a value' },
  { rule: 'a retained entry goes with its writer', file: memoryStorage, from: 'bytes: held.bytes + charged(record) });\n      return;', to: 'bytes: held.bytes + charged(record) });', suite: 'registry', expect: "a retained entry outlives its writer's close" },
  { rule: 'listed entries carry retained: false', file: registryJson, from: '  if (stored.retained) entry.retained = true;', to: '  entry.retained = (stored.retained === true) as true;', suite: 'registry', expect: 'lists ordinary entries with no retained key' },
  { rule: 'snapshot entries out of order', file: watchFeed, from: 'const names = [...state.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));', to: 'const names = [...state.keys()].sort((a, b) => (a < b ? 1 : a > b ? -1 : 0));', suite: 'registry', expect: 'ordered by name, at a revision' },
  { rule: 'snapshot repeats the changes it covers', file: watchFeed, from: 'if (this.stopped || change.revision <= this.told) return;', to: 'if (this.stopped) return;', suite: 'registry', expect: 'miss nothing and repeat nothing' },
  { rule: 'changes of a snapshot watch carry no revision', file: watchFeed, from: '    event.revision = change.revision;', to: '', suite: 'registry', expect: 'then every later change with its revision' },
  { rule: 'a plain watch told revisions', file: remoteWatches, from: 'callWatcher(this.host.emitter, watch.watcher as RegistryWatcher, { type: change.type, entry: change.entry });', to: 'callWatcher(this.host.emitter, watch.watcher as RegistryWatcher, { type: change.type, entry: change.entry, revision: change.revision });', suite: 'registry', expect: "a plain watch's changes are exactly { type, entry }" },
  { rule: 'snapshot not filtered', file: watchFeed, from: 'if (this.matches(record)) entries.push(toEntry(record));', to: 'entries.push(toEntry(record));', suite: 'registry', expect: 'its snapshot filtered too' },
  { rule: 'filter not applied to removals', file: watchFeed, from: "change.type === 'removed' ? this.matches(change.record) :", to: "change.type === 'removed' ? true :", suite: 'registry', expect: 'updated out of the filter as removed' },
  { rule: 'an update out of the filter not told', file: watchFeed, from: "    if (before) return 'removed';", to: '', suite: 'registry', expect: 'updated out of the filter as removed' },
  { rule: 'resume does not replay (store)', file: watchFeed, from: 'const replayed = await this.replay(from);', to: 'const replayed = null;', suite: 'registry', expect: 'seen every change once, in order, with no resync' },
  { rule: 'resume does not replay (client)', file: remoteWatches, from: 'params.from = watch.revision;', to: '', suite: 'registry', expect: 'seen every change once, in order, with no resync' },
  { rule: 'no resync past the log', file: watchFeed, from: 'if (batch.truncated) return null;', to: '', suite: 'registry', expect: 'one resync snapshot with the fresh state' },
  { rule: 'wills not applied when the grace ends (broker)', file: 'packages/broker/src/Departures.ts', from: '    this.release(conn, false);', to: '    this.release(conn);', suite: 'brokerRegistry', expect: 'applies a will value when its writer ends uncleanly' },
  { rule: 'a reconnect within the grace gets a new session (broker)', file: 'packages/broker/src/Admission.ts', from: 'if (previous) this.calls.adoptRegistry(conn, previous);', to: 'if (previous) this.host.release(previous);', suite: 'brokerRegistry', expect: 'seen every change once, in order, with no resync' },
  { rule: 'waits outlive a dropped socket (broker)', file: 'packages/broker/src/Departures.ts', from: '    else conn.registry?.endWaits();', to: '', suite: 'brokerRegistry', expect: 'a waiter whose channel is interrupted' },
  { rule: 'waits outlive an interrupted channel (session)', file: 'packages/registry/src/ServiceSession.ts', from: '      wait.cancelling = true;\n      wait.controller.abort();', to: '      wait.cancelling = true;', suite: 'registry', expect: 'a waiter whose channel is interrupted' },
  { rule: 'a snapshot in pages keeps only its last page', file: remoteWatches, from: 'watch.pages = [...(watch.pages ?? []), ...page.entries];', to: 'watch.pages = [...page.entries];', suite: 'registry', expect: 'a snapshot larger than a page and a reply' },
  // PeerServices (serviceConformance.ts).
  { rule: 'service concurrency not honoured', file: serviceProvider, from: '    if (service.running < service.options.concurrency) this.run(service, call);\n    else {', to: '    if (true) this.run(service, call);\n    else {', suite: 'services', expect: 'never more than 4 handlers run at once' },
  { rule: 'service progress after the result', file: serviceCaller, from: 'if (onProgress) callUserListener(this.host.emitter, () => onProgress(frame.value), `the onProgress of a call to ${call.service}`);', to: 'if (onProgress) setTimeout(() => callUserListener(this.host.emitter, () => onProgress(frame.value), `the onProgress of a call to ${call.service}`));', suite: 'services', expect: 'all before the result, and none after it' },
  { rule: 'service INTERNAL leaks the provider details', file: serviceProvider, from: 'failed; its log says why.` };', to: 'failed: ${err instanceof Error ? err.message : String(err)}` };', suite: 'services', expect: "INTERNAL at the caller, without the provider's details" },
  { rule: 'service cancel does not abort the handler', file: serviceCaller, from: "// The provider stops working on it: its signal fires.\n    if (call.sent) this.trySend(call.target, { t: 'cancel', id });", to: "if (call.sent && error.code !== 'CANCELLED') this.trySend(call.target, { t: 'cancel', id });", suite: 'services', expect: "rejects CANCELLED and fires the handler's signal" },
  { rule: 'service timeout does not abort the handler', file: serviceCaller, from: "// The provider stops working on it: its signal fires.\n    if (call.sent) this.trySend(call.target, { t: 'cancel', id });", to: "if (call.sent && error.code !== 'TIMEOUT') this.trySend(call.target, { t: 'cancel', id });", suite: 'services', expect: "rejects TIMEOUT and fires the handler's signal" },
  { rule: 'service non-idempotent call retried', file: peerServices, from: 'if (err instanceof CallUndelivered && (idempotent || !err.delivered)) {', to: 'if (err instanceof CallUndelivered) {', suite: 'services', expect: 'never runs a call not marked idempotent twice' },
  { rule: 'service lost provider does not fail the call', file: serviceCaller, from: '      if (call.target !== target) continue;\n      this.pending.delete(id);', to: '      continue;\n      this.pending.delete(id);', suite: 'services', expect: 'a provider killed mid-call' },
  { rule: 'service caller lost does not abort the handler', file: peerServices, from: '      this.caller.lost(peer);\n      this.provider.lost(peer);', to: '      this.caller.lost(peer);', suite: 'services', expect: 'a caller killed mid-call' },
  // Multicast (hubConformance.ts, the multicast rules).
  { rule: 'multicast delivered twice', file: core, from: 'if (connected.length === 0) return;\n    this.transmitToMany(connected, message);', to: 'if (connected.length === 0) return;\n    this.transmitToMany(connected, message);\n    this.transmitToMany(connected, message);', suite: 'inBrowser', expect: 'multicast delivers once to each connected target' },
  { rule: 'multicast target list not deduplicated', file: core, from: '} else if (connected.includes(target)) continue;', to: '}', suite: 'inBrowser', expect: 'naming a target twice delivers to it once' },
  { rule: 'multicast long target list not deduplicated', file: core, from: 'if (seen.has(target)) continue;', to: '', suite: 'inBrowser', expect: 'naming a target twice delivers to it once' },
  { rule: 'multicast payload not validated', file: core, from: '    this.validatePayload(message);\n    const connected = this.connectedTargets(targets);', to: '    const connected = this.connectedTargets(targets);', suite: 'inBrowser', expect: 'multicast of a payload the layer cannot carry throws INVALID_PAYLOAD' },
  { rule: 'multicast targets not checked', file: core, from: 'if (!Array.isArray(targets)) {', to: 'if (false) {', suite: 'inBrowser', expect: 'not an array of evas throws INVALID_ARGUMENT' },
  { rule: 'multicast after destroy allowed', file: core, from: "this.assertAlive('multicast');", to: '', suite: 'inBrowser', expect: 'after destroy() every call throws DESTROYED' },
  { rule: 'broker shared group records run past a target', file: brokerOutbound, from: 'if (shared === records && this.sharedEnd === start) {', to: 'if (shared === records) {', suite: 'webSocket', expect: 'overlapping target lists in one burst' },
  { rule: 'MultiplexHub multicast delivered twice', file: multiplexEndpoint, from: 'this.framed(() => this.inner.multicast(targets, frame));', to: 'this.framed(() => { this.inner.multicast(targets, frame); this.inner.multicast(targets, frame); });', suite: 'multiplex', expect: 'multicast delivers once to each connected target' },
  { rule: 'MarshallerHub multicast delivered twice', file: marshaller, from: 'if (straight.length > 0) this.inner.multicast(straight,', to: 'if (straight.length > 0) this.inner.multicast(straight, new OutgoingMessage(encoded, 0).nextFrame(chunkSize).frame);\n    if (straight.length > 0) this.inner.multicast(straight,', suite: 'marshaller', expect: 'multicast delivers once to each connected target' },
  { rule: 'ReliableHub multicast not deduplicated', file: reliableDatagrams, from: 'if (!link.replay.accept(counter)) {', to: 'if (!link.replay.accept(counter) && false) {', suite: 'reliable', expect: 'multicast delivers once to each connected target' },
  { rule: 'ReliableHub multicast overtakes the sends of its turn', file: reliableDatagrams, from: 'if (link?.pumpScheduled) this.host.flush(link);', to: '', suite: 'reliable', expect: 'multicast and send to one target arrive in call order' },
  { rule: 'UnreliableHub multicast bypasses the chaos', file: unreliableEndpoint, from: 'if (this.passesStraight(target, decision)) {', to: 'if (decision.seq > 0) {', suite: 'unreliable', expect: 'multicast meets the chaos a send meets' },
  // Room collections in the registry (registryCoordinationConformance, room collections).
  { rule: 'room presence written for another eva', file: registryRules, from: "if (value && kind === 'member' && key.name !== ROOM_MEMBER_PREFIX + owner) {", to: 'if (false) {', suite: 'registry', expect: 'only its own presence' },
  { rule: 'room state writable by a non-member', file: registryRules, from: 'if (presence && presence.owner === owner && !presence.retained) return { room, roomMember: true };', to: 'return { room, roomMember: true };', suite: 'registry', expect: 'a non-member is FORBIDDEN' },
  // Rooms (roomConformance.ts).
  { rule: 'room broadcast delivered twice', file: roomIncoming, from: '    if (seq < s.expected) return;', to: '    if (seq < s.expected) {\n      this.host.deliver(from, body);\n      return;\n    }', suite: 'rooms', expect: 'each received exactly once, in per-sender order' },
  { rule: 'room gap never repaired', file: roomOutgoing, from: '    if (!this.startOf.has(member)) return;\n    const oldest', to: '    return;\n    const oldest', suite: 'roomsBroker', expect: 'each received exactly once, in per-sender order' },
  { rule: 'room broadcast delivered past a gap', file: roomIncoming, from: '    if (seq > s.expected) {', to: '    if (seq > s.expected && false) {', suite: 'roomsBroker', expect: 'each received exactly once, in per-sender order' },
  { rule: 'room leave told twice', file: room, from: "if (this.phase === 'joined') guard(() => this.emit('leave', member));", to: "if (this.phase === 'joined') guard(() => { this.emit('leave', member); this.emit('leave', member); });", suite: 'rooms', expect: 'every other member gets exactly one leave event' },
  { rule: 'room delivers before its snapshot', file: room, from: "      if (this.early.length < MAX_EARLY_FRAMES) this.early.push({ from, message });\n      return;\n    }\n    if (this.phase !== 'joined') return;", to: "    }\n    if (this.phase === 'left') return;", suite: 'rooms', expect: 'a joiner has the state (at one revision) before any live message' },
  { rule: 'room frames reach the app', file: room, from: 'multicast: (targets, frame) => this.channel.multicast(targets, frame),', to: 'multicast: (targets, frame) => this.endpoint.multicast(targets, frame),', suite: 'rooms', expect: 'the app never sees room frames' },
  { rule: 'room leave not applied', file: roomPresence, from: '    if (known && (!removed || removed.incarnation === known.incarnation)) this.removeMember(eva);', to: '    if (known && removed && removed.incarnation !== known.incarnation) this.removeMember(eva);', suite: 'rooms', expect: 'leave() removes the member' },
  // PeerStreams (streamConformance.ts).
  { rule: 'stream credit ignores the reader', file: streamIncoming, from: 'const limit = this.got - Math.min(queued, this.got) + this.host.windowBytes;', to: 'const limit = this.got + this.host.windowBytes;', suite: 'streams', expect: 'a reader that stops holds the sender back' },
  { rule: 'stream hash not compared', file: streamIncoming, from: 'if (!sameProof(sha256, this.end!.sha256)) {', to: 'if (false) {', suite: 'streams', expect: 'one byte changed beneath the streams' },
  { rule: 'stream not resumed after a break', file: streamIncoming, from: 'if (this.host.resumeTimeoutMs === 0) {', to: 'if (true) {', suite: 'streams', expect: 'a broken connection resumes from what the receiver has' },
  { rule: 'stream progress told twice at the size', file: streamOutgoing, from: '    if (this.reportedOnce && this.acked === this.reported) return;', to: '', suite: 'streams', expect: 'progress never decreases and ends at the full size' },
  { rule: 'stream sender cancel not told', file: streamOutgoing, from: '    if (this.host.isConnected(this.target)) this.control(frame);\n    else this.host.tellLater(this.target, frame);', to: '', suite: 'streams', expect: 'cancel by the sender' },
  // SecureHub (its conformance file: hubConformance and integrityConformance).
  { rule: 'SecureHub replay window not checked', file: secureSession, from: '!this.window.fresh(Number(counter))', to: 'false', suite: 'secure', expect: 'each exactly once (' },
  { rule: 'SecureHub record counter not checked', file: secureSession, from: "if (counter !== this.nextCounter) return counter < this.nextCounter ? 'replay' : 'sequence';", to: '', suite: 'secure', expect: 'a replayed ciphertext record yields INTEGRITY' },
  { rule: 'SecureHub reordered records accepted', file: secureSession, from: "if (counter !== this.nextCounter) return counter < this.nextCounter ? 'replay' : 'sequence';", to: "if (counter < this.nextCounter) return 'replay';", suite: 'secure', expect: 'two ciphertext records swapped yield INTEGRITY' },
  { rule: 'SecureHub acknowledgement not awaited', file: secureEndpoint, from: '    return promise;', to: '    return Promise.resolve();', suite: 'secure', expect: 'a forged acknowledgement never resolves sendAcknowledged' },
  { rule: 'SecureHub sender key handed to a non-member', file: secureSenderKeys, from: 'if (!key || key.retired || !key.members.has(peer)) return;', to: 'if (!key || key.retired) return;', suite: 'secure', expect: 'a target left out of a multicast never reads it' },
  { rule: 'SecureHub one sender key for every target set', file: secureSenderKeys, from: 'if (last !== null && !last.key.retired && sameList(last.targets, targets)) return last.key;', to: 'if (last !== null && !last.key.retired) return last.key;', suite: 'secure', expect: 'a target left out of a multicast never reads it' },
  { rule: 'SecureHub group signature not checked', file: secureReceivedKeys, from: "if (held.verify && !held.verify(record.subarray(0, end), record.subarray(end))) return 'signature';", to: '', suite: 'secure', expect: 'a multicast forged by another target of the group' },
  { rule: 'SecureHub pinned key not compared', file: secureHandshakes, from: 'if (equalBytes(pinned, key)) return true;', to: 'return true;', suite: 'secure', expect: 'another identity ends openConnection in FAILED/KEY_MISMATCH' },
  // The cluster on Redis.
  { rule: 'Redis takeover without the token', file: redisRouterScripts, from: 'if proves(current[3]) then', to: 'if true then', suite: 'redisRouter', expect: 'refuses a claim of a held eva' },
  { rule: 'Redis write without its condition', file: redisStorageScripts, from: "if not holds then return { 'c', cur } end", to: '', suite: 'redisStorage', expect: 'creates only what is absent' },
  { rule: 'sub-protocol frames reach the app', file: multiplexEndpoint, from: 'else this.dispatch(sourceEva, frame.name, frame.payload);', to: 'else this.deliver(sourceEva, frame.payload);', suite: 'multiplex', expect: 'kept apart both ways' },
];

module.exports = { suites, mutants };
