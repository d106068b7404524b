/* global Vnf */
// The services example's page: it hosts `page.greet` (called by examples/services/call-page.js) and calls
// `worker.wordcount` (hosted by examples/services/worker.js), both through the broker of examples/services/server.js.
(function () {
  'use strict';

  const $ = (id) => document.getElementById(id);
  const brokerUrl = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/webbroker/vnf-ws';
  // The server's authorize hook lets only evas `page-…` advertise `page.*` services.
  const eva = 'page-' + Math.random().toString(36).slice(2, 8);

  const webSocketHub = new Vnf.WebSocketHub(new Vnf.WebSocketFactory(brokerUrl));
  const hub = new Vnf.MultiplexHub(webSocketHub);
  const endpoint = hub.openEndpoint(eva);
  // The registry client on the endpoint's own socket: the page's ad goes when the page does.
  const registry = new Vnf.WebSocketRegistryClient(webSocketHub.openEndpoint(eva).getWebSocketRpc());
  const services = new Vnf.PeerServices(endpoint, { registry });

  function describe(err) {
    return err && err.code ? err.code + ': ' + err.message : String((err && err.message) || err);
  }

  function served(text) {
    const item = document.createElement('li');
    item.textContent = text;
    $('served').append(item);
  }

  services.on('error', (err) => {
    $('status').textContent = describe(err);
    $('status').className = 'error';
  });

  // ---- the service this page hosts -----------------------------------------------------------------------
  const greet = services.provide(
    'page.greet',
    (params, context) => {
      const name = params && typeof params.name === 'string' ? params.name.slice(0, 40) : 'stranger';
      const greeting = 'Hello, ' + name + '! Greetings from a browser page.';
      served(context.caller + ' called page.greet: ' + greeting);
      return { greeting, by: eva };
    },
    {
      advertise: true,
      // `caller` is the eva the broker stamped on the call, not a claim of the caller.
      allow: (caller) => {
        if (caller.startsWith('node-')) return true;
        served('refused a call from ' + caller);
        return false;
      },
    },
  );
  // The ad is written in the background: say "Ready" once it is in the registry, where callers find it.
  greet.advertised.then((advertised) => {
    if (advertised) {
      $('status').textContent = 'Ready as ' + eva;
    } else {
      $('status').textContent = 'The ad of page.greet could not be written to the registry';
      $('status').className = 'error';
    }
  });

  // ---- calling the Node worker's service ---------------------------------------------------------------
  $('count-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    $('count').disabled = true;
    $('progress').textContent = '';
    $('result').textContent = 'Counting…';
    $('result').className = '';
    try {
      const result = await services.callAny('worker.wordcount', $('text').value, {
        timeoutMs: 20000,
        onProgress: (p) => {
          $('progress').textContent = 'Line ' + p.line + ' of ' + p.of + ': ' + p.words + ' words so far';
        },
      });
      $('result').textContent = result.words + ' words on ' + result.lines + ' lines, counted by ' + result.by;
    } catch (err) {
      const hint = Vnf.VnfError.is(err, 'NOT_FOUND') ? ' (start a worker: node examples/services/worker.js)' : '';
      $('result').textContent = describe(err) + hint;
      $('result').className = 'error';
    } finally {
      $('count').disabled = false;
    }
  });
})();
