'use strict';
// Pins processes (all their threads) to one CPU and back, with util-linux `taskset`. Round-trip
// latency between two processes on a VM is dominated by whether the scheduler puts them on the same
// vCPU (a hand-over) or on two (waking an idle vCPU: tens of microseconds), which changes from run
// to run. Pinned together, the round trip measures the software path alone.
const { execFileSync } = require('child_process');

function mask(pid) {
  const out = execFileSync('taskset', ['-p', String(pid)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  return out.trim().split(/\s+/).pop();
}

/** Pins every pid to `cpu`; returns a function restoring the previous masks, or null if taskset is missing. */
function pinTogether(pids, cpu = 0) {
  const previous = [];
  const restore = () => {
    for (const [pid, m] of previous) {
      try {
        execFileSync('taskset', ['-a', '-p', m, String(pid)], { stdio: 'ignore' });
      } catch {
        /* the process is gone */
      }
    }
  };
  try {
    for (const pid of pids) {
      previous.push([pid, mask(pid)]);
      execFileSync('taskset', ['-a', '-p', '-c', String(cpu), String(pid)], { stdio: 'ignore' });
    }
  } catch {
    restore(); // no taskset, or not allowed: measure unpinned rather than half pinned
    return null;
  }
  return restore;
}

module.exports = { pinTogether };
