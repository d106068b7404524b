'use strict';
// The file-sharing example's server: the page, the window.Vnf bundle and the VNF broker on one HTTP server and port.
//   node examples/file-share/server.js      (PORT=8080, HOST=127.0.0.1 by default; PORT=0 picks a free port)
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
 * Starts the server. Resolves with its URL, the broker's URL and a close() that stops the broker and the server.
 * @param {{ port?: number, host?: string }} [options] port 0 picks a free port.
 */
async function startFileShareServer({ port = 8080, host = '127.0.0.1' } = {}) {
  const server = http.createServer(serve);
  const broker = new Broker();
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

module.exports = { startFileShareServer };

if (require.main === module) {
  const port = Number(process.env.PORT ?? 8080);
  const host = process.env.HOST ?? '127.0.0.1';
  startFileShareServer({ port, host }).then(
    (started) => {
      console.log(`VNF file sharing: open ${started.url} in two browser windows`);
      const stop = () => started.close().then(() => process.exit(0));
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    },
    (err) => {
      console.error(`VNF file sharing: cannot listen on ${host}:${port}: ${err.message}`);
      process.exit(1);
    },
  );
}
