// The few `process` members that browser-bound dependencies (readable-stream under simple-peer, debug) read.
// Injected by scripts/build-browser.mjs only for free `process` references inside the bundle; the page's globals stay untouched.
export const process = {
  browser: true,
  env: {},
  version: '',
  versions: {},
  // Node runs nextTick callbacks before promise reactions; a microtask is the closest a browser offers.
  nextTick(callback, ...args) {
    queueMicrotask(() => callback(...args));
  },
};
