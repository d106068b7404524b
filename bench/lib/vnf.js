'use strict';
// Loads a VNF package for a scenario. A package that has not landed (or does not load) makes the
// scenario report "not available" instead of crashing the whole run.
require('./register');

class NotAvailable extends Error {
  constructor(what, cause) {
    super(`${what} not available${cause ? `: ${cause.message.split('\n')[0]}` : ''}`);
    this.notAvailable = true;
  }
}

/** Requires `@vnf/<name>` and checks that it exports `names`; throws NotAvailable otherwise. */
function loadVnf(name, names = []) {
  let mod;
  try {
    mod = require(`@vnf/${name}`);
  } catch (err) {
    throw new NotAvailable(`@vnf/${name}`, err);
  }
  for (const n of names) {
    if (typeof mod[n] !== 'function') throw new NotAvailable(`@vnf/${name} export ${n}`);
  }
  return mod;
}

module.exports = { loadVnf, NotAvailable };
