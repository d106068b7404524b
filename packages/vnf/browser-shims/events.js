// Node's `events` API as readable-stream (under simple-peer) uses it. Browsers have no `events` module and
// bundlers no longer polyfill it, so the browser build maps `events` here (scripts/build-browser.mjs).
'use strict';

function EventEmitter() {
  this._events = new Map();
  this._maxListeners = undefined;
}

function add(emitter, type, listener, prepend) {
  if (typeof listener !== 'function') throw new TypeError('The "listener" argument must be a function');
  if (!emitter._events) emitter._events = new Map();
  if (emitter._events.has('newListener')) emitter.emit('newListener', type, listener.listener || listener);
  const list = emitter._events.get(type) || [];
  emitter._events.set(type, prepend ? [listener, ...list] : [...list, listener]);
  return emitter;
}

function onceWrapper(emitter, type, listener) {
  let fired = false;
  function wrapped(...args) {
    if (fired) return undefined;
    fired = true;
    emitter.removeListener(type, wrapped);
    return listener.apply(emitter, args);
  }
  wrapped.listener = listener;
  return wrapped;
}

EventEmitter.prototype.on = function on(type, listener) {
  return add(this, type, listener, false);
};
EventEmitter.prototype.addListener = EventEmitter.prototype.on;
EventEmitter.prototype.prependListener = function prependListener(type, listener) {
  return add(this, type, listener, true);
};
EventEmitter.prototype.once = function once(type, listener) {
  return add(this, type, onceWrapper(this, type, listener), false);
};
EventEmitter.prototype.prependOnceListener = function prependOnceListener(type, listener) {
  return add(this, type, onceWrapper(this, type, listener), true);
};

EventEmitter.prototype.removeListener = function removeListener(type, listener) {
  const list = this._events && this._events.get(type);
  if (!list) return this;
  const index = list.findIndex((l) => l === listener || l.listener === listener);
  if (index < 0) return this;
  const rest = list.filter((_, i) => i !== index);
  if (rest.length) this._events.set(type, rest);
  else this._events.delete(type);
  if (this._events.has('removeListener')) this.emit('removeListener', type, listener);
  return this;
};
EventEmitter.prototype.off = EventEmitter.prototype.removeListener;

EventEmitter.prototype.removeAllListeners = function removeAllListeners(type) {
  if (!this._events) return this;
  if (type === undefined) this._events.clear();
  else this._events.delete(type);
  return this;
};

EventEmitter.prototype.emit = function emit(type, ...args) {
  const list = this._events && this._events.get(type);
  if (!list) {
    // Node's rule: an 'error' nobody listens to is thrown, never swallowed.
    if (type === 'error') throw args[0] instanceof Error ? args[0] : new Error(`Unhandled error: ${String(args[0])}`);
    return false;
  }
  // A copy: listeners added or removed while emitting take effect from the next emit, as in Node.
  for (const listener of [...list]) listener.apply(this, args);
  return true;
};

EventEmitter.prototype.listeners = function listeners(type) {
  const list = (this._events && this._events.get(type)) || [];
  return list.map((l) => l.listener || l);
};
EventEmitter.prototype.rawListeners = function rawListeners(type) {
  return [...((this._events && this._events.get(type)) || [])];
};
EventEmitter.prototype.listenerCount = function listenerCount(type) {
  const list = this._events && this._events.get(type);
  return list ? list.length : 0;
};
EventEmitter.prototype.eventNames = function eventNames() {
  return this._events ? [...this._events.keys()] : [];
};
EventEmitter.prototype.setMaxListeners = function setMaxListeners(n) {
  this._maxListeners = n;
  return this;
};
EventEmitter.prototype.getMaxListeners = function getMaxListeners() {
  return this._maxListeners === undefined ? EventEmitter.defaultMaxListeners : this._maxListeners;
};

EventEmitter.defaultMaxListeners = 10;
EventEmitter.listenerCount = (emitter, type) => emitter.listenerCount(type);
EventEmitter.EventEmitter = EventEmitter;

module.exports = EventEmitter;
