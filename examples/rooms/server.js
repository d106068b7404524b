'use strict';
// The rooms example's server: the page, the window.Vnf bundle and the VNF broker on one HTTP server and port.
//   node examples/rooms/server.js        (PORT=8080, HOST=127.0.0.1 by default; PORT=0 picks a free port)
// Then open http://127.0.0.1:8080/?room=lobby in a few tabs. A room's presence and shared state are entries of the
// broker's registry (collection `vnf.room:<name>`); its messages go peer to peer, relayed by the broker where no
// WebRTC data channel can be made.
const http = require('node:http');
const fs = require('node:fs');
const path = require('node:path');
const { Broker } = require('@vnf/broker');

const BROKER_PATH = '/webbroker/vnf-ws';

const STATIC = {
  '/': ['index.html', 'text/html; charset=utf-8'],
  '/app.js': ['app.js', 'text/javascript; charset=utf-8'],
};

function serve(req, res) {
  const pathname = new URL(req.url || '/', 'http://localhost').pathname;
  let file;
  let type;
  if (STATIC[pathname]) {
    [file, type] = STATIC[pathname];
    file = path.join(__dirname, file);
  } else if (pathname === '/vnf.min.js') {
    file = path.join(path.dirname(require.resolve('vnf/package.json')), 'dist', 'vnf.min.js');
    type = 'text/javascript; charset=utf-8';
  } else {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
    return;
  }
  fs.readFile(file, (err, data) => {
    if (err) {
      res.writeHead(500, { 'content-type': 'text/plain' }).end(`cannot read ${path.basename(file)} (run \`npm run build\` first)`);
      return;
    }
    res.writeHead(200, { 'content-type': type, 'cache-control': 'no-cache' }).end(data);
  });
}

/**
 * Starts the server. Resolves with its URL, the broker's URL, the broker and a close() that stops both.
 * @param {{ port?: number, host?: string, evaGraceMs?: number }} [options] port 0 picks a free port; evaGraceMs is
 *   how long the broker keeps the eva (and room membership) of a page whose socket died before it counts as gone.
 */
async function startRoomsServer({ port = 8080, host = '127.0.0.1', evaGraceMs } = {}) {
  const server = http.createServer(serve);
  const broker = new Broker(evaGraceMs === undefined ? {} : { evaGraceMs });
  broker.attach(server, { path: BROKER_PATH });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  let closing = null;
  return {
    url: `http://${shownHost}:${address.port}/`,
    brokerUrl: `ws://${shownHost}:${address.port}${BROKER_PATH}`,
    broker,
    close() {
      closing ??= (async () => {
        await broker.close();
        server.closeAllConnections();
        await new Promise((resolve) => server.close(() => resolve()));
      })();
      return closing;
    },
  };
}

module.exports = { startRoomsServer };

if (require.main === module) {
  const port = Number(process.env.PORT ?? 8080);
  const host = process.env.HOST ?? '127.0.0.1';
  startRoomsServer({ port, host }).then(
    (started) => {
      console.log(`VNF rooms: open ${started.url}?room=lobby in a few tabs; the broker is ${started.brokerUrl}`);
      const stop = () => started.close().then(() => process.exit(0));
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    },
    (err) => {
      console.error(`VNF rooms: cannot listen on ${host}:${port}: ${err.message}`);
      process.exit(1);
    },
  );
}
