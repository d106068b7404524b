'use strict';
// The chat example's server: the page, the window.Vnf bundle and the VNF broker on one HTTP server and port.
// The broker only relays and signals; it keeps no message (the registry holds room names while their owners are online).
//   npm start                    (PORT=8080, HOST=127.0.0.1 by default; PORT=0 picks a free port)
// SIGINT or SIGTERM closes the broker and the server, then exits. `npm start` execs this script, so signals sent
// to the npm process reach it (without `exec`, /bin/sh may fork and leave the server running when npm is stopped).
const http = require('node:http');
const fs = require('node:fs');
const path = require('node:path');
const { Broker } = require('@vnf/broker');

const BROKER_PATH = '/webbroker/vnf-ws';

const STATIC = {
  '/': ['index.html', 'text/html; charset=utf-8'],
  '/index.html': ['index.html', 'text/html; charset=utf-8'],
  '/app.js': ['app.js', 'text/javascript; charset=utf-8'],
  '/keys.js': ['keys.js', 'text/javascript; charset=utf-8'],
  '/style.css': ['style.css', 'text/css; charset=utf-8'],
};

function bundleFile(name) {
  return path.join(path.dirname(require.resolve('vnf/package.json')), 'dist', name);
}

function serve(req, res) {
  const pathname = new URL(req.url || '/', 'http://localhost').pathname;
  let file;
  let type;
  if (STATIC[pathname]) {
    [file, type] = STATIC[pathname];
    file = path.join(__dirname, file);
  } else if (pathname === '/vnf.min.js' || pathname === '/vnf.min.js.map') {
    file = bundleFile(pathname.slice(1));
    type = pathname.endsWith('.map') ? 'application/json' : 'text/javascript; charset=utf-8';
  } else {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
    return;
  }
  fs.readFile(file, (err, data) => {
    if (err) {
      const hint = file.includes(`${path.sep}dist${path.sep}`) ? ' (run `npm run build` first)' : '';
      res.writeHead(500, { 'content-type': 'text/plain' }).end(`cannot read ${path.basename(file)}${hint}`);
      return;
    }
    res.writeHead(200, { 'content-type': type, 'cache-control': 'no-cache' }).end(data);
  });
}

/**
 * Starts the chat server. Resolves with its URL, its broker (e.g. `broker.terminate(eva)` cuts one page's socket,
 * as a network failure would) and a close() that stops the broker and the server.
 * @param {{ port?: number, host?: string }} [options] port 0 picks a free port.
 */
async function startChatServer({ port = 8080, host = '127.0.0.1' } = {}) {
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
  const url = `http://${shownHost}:${address.port}/`;
  let closing = null;
  return {
    url,
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

module.exports = { startChatServer, BROKER_PATH };

if (require.main === module) {
  const port = Number(process.env.PORT ?? 8080);
  const host = process.env.HOST ?? '127.0.0.1';
  startChatServer({ port, host }).then(
    (chat) => {
      console.log(`VNF chat: open ${chat.url} in two browser windows`);
      // Ctrl-C in a terminal signals npm and this process both, so a signal may come twice: close once, then exit.
      const stop = () => chat.close().then(() => process.exit(0));
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    },
    (err) => {
      console.error(`VNF chat: cannot listen on ${host}:${port}: ${err.message}`);
      process.exit(1);
    },
  );
}
