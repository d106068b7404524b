'use strict';
// `npm run soak -- cluster`: packages/broker/test/redis/killedBroker.process.test.ts at soak size — 1 000 endpoint
// pairs and 100 000 messages over ReliableHub(WebSocketHub) across three broker processes on one Redis, one broker
// killed with kill -9 — instead of the CI run's 100 pairs and 10 000 messages. Needs `npm run build` (the brokers run
// from dist) and redis-server. `--quick`: the CI size.
const { spawn } = require('child_process');
const path = require('path');

exports.run = (argv) =>
  new Promise((resolve) => {
    const quick = argv.includes('--quick');
    const root = path.resolve(__dirname, '../..');
    const env = { ...process.env, VNF_CLUSTER_REPORT: '1', VNF_CLUSTER_PAIRS: quick ? '100' : '1000', VNF_CLUSTER_MESSAGES: '100', VNF_IN_LOOPBACK_NS: '1' };
    const jest = spawn(process.execPath, [require.resolve('jest/bin/jest'), '--runInBand', 'packages/broker/test/redis/killedBroker.process.test.ts'], { cwd: root, env, stdio: 'inherit' });
    jest.on('exit', (code) => resolve(code ?? 1));
  });
