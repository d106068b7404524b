/* global Vnf */
// The chat's keys: each browser profile has one long-term identity per name (kept in localStorage, so a reload or a
// new tab keeps it and the others see the same fingerprint), and pins the keys of the people it met (localStorage
// too): a known name that comes back with another key is refused, and the page warns, until its user trusts it.
(function () {
  'use strict';

  const IDENTITY = 'vnf-chat:identity:';
  const PIN = 'vnf-chat:pin:';

  function storage(kind) {
    try {
      return window[kind];
    } catch {
      return null; // storage disabled: keys live in memory for this page only
    }
  }
  const profile = storage('localStorage');
  const memory = new Map();

  function read(store, key) {
    try {
      return store ? store.getItem(key) : (memory.get(key) ?? null);
    } catch {
      return memory.get(key) ?? null;
    }
  }
  function write(store, key, value) {
    try {
      if (store) return store.setItem(key, value);
    } catch {
      // full or disabled: fall back to memory
    }
    memory.set(key, value);
  }
  function remove(store, key) {
    try {
      if (store) store.removeItem(key);
    } catch {
      // nothing to do
    }
    memory.delete(key);
  }

  const b64 = {
    encode: (bytes) => btoa(String.fromCharCode(...bytes)),
    decode: (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0)),
  };

  window.ChatKeys = {
    /** This profile's identity for `name`: the one it had before, or a new one. */
    identityFor(name) {
      const saved = read(profile, IDENTITY + name);
      if (saved) {
        try {
          return Vnf.Identity.import(saved);
        } catch {
          // unreadable: make a new one
        }
      }
      const identity = Vnf.Identity.generate();
      write(profile, IDENTITY + name, JSON.stringify(identity.export()));
      return identity;
    },
    /** SecureHub's KeyStore over localStorage: the keys pinned for each eva met. */
    pins: {
      get: (eva) => {
        const text = read(profile, PIN + eva);
        return text === null ? undefined : b64.decode(text);
      },
      set: (eva, key) => write(profile, PIN + eva, b64.encode(key)),
    },
    /** Forgets the key pinned for `eva`: the next connection pins the one it presents. */
    forget(eva) {
      remove(profile, PIN + eva);
    },
    /** The first two groups of a fingerprint, for a list; the whole one is shown on demand. */
    short(fingerprint) {
      return String(fingerprint).split(' ').slice(0, 2).join(' ');
    },
  };
})();
