/* global Vnf */
// Two pages share files through the broker: PeerStreams over MultiplexHub(WebSocketHub). Each file is streamed from
// the disk (a File is a Blob: read a slice at a time), with progress on both sides, cancel from either, resume after
// a broken connection, and a SHA-256 checked at the end. Nothing is stored on the server.
'use strict';

const $ = (id) => document.getElementById(id);
const code = `page-${Math.random().toString(36).slice(2, 8)}`;
const factory = new Vnf.WebSocketFactory(`${location.origin.replace(/^http/, 'ws')}/webbroker/vnf-ws`);
const hub = new Vnf.MultiplexHub(new Vnf.WebSocketHub(factory));
const endpoint = hub.openEndpoint(code);
const streams = new Vnf.PeerStreams(endpoint);

$('status').textContent = `This page's code: ${code}`;
endpoint.on('offline', () => ($('status').textContent = `Reconnecting to the server… (code ${code})`));
endpoint.on('online', () => ($('status').textContent = `This page's code: ${code}`));

/** One line of a list: a name, a progress bar, a state, and a button. */
function row(list, name, total) {
  const item = document.createElement('li');
  const label = document.createElement('span');
  label.textContent = `${name} `;
  const bar = document.createElement('progress');
  bar.max = total || 1;
  bar.value = 0;
  bar.setAttribute('aria-label', `progress of ${name}`);
  const state = document.createElement('span');
  state.className = 'state';
  const button = document.createElement('button');
  button.type = 'button';
  button.textContent = 'Cancel';
  item.append(label, bar, ' ', state, ' ', button);
  list.append(item);
  const percent = (bytes) => (total ? `${Math.floor((bytes / total) * 100)} %` : `${bytes} bytes`);
  return {
    item,
    button,
    progress: ({ bytes }) => {
      bar.value = bytes;
      state.textContent = percent(bytes);
    },
    end: (text, error) => {
      state.textContent = text;
      state.classList.toggle('error', Boolean(error));
      button.remove();
    },
  };
}

$('send-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const file = $('file').files[0];
  const target = $('target').value.trim();
  if (!file || !target) return;
  const line = row($('outgoing'), `${file.name} → ${target}`, file.size);
  const transfer = streams.send(target, file);
  line.button.addEventListener('click', () => transfer.cancel('the sender cancelled'));
  transfer.on('progress', line.progress);
  transfer.on('suspended', () => line.item.setAttribute('data-suspended', 'true'));
  transfer.on('resumed', () => line.item.removeAttribute('data-suspended'));
  transfer.done.then(
    () => line.end('delivered, SHA-256 checked'),
    (err) => line.end(err.code === 'CANCELLED' ? 'cancelled' : `failed: ${err.message}`, err.code !== 'CANCELLED'),
  );
});

streams.on('transfer', (incoming) => {
  const { name, size, from } = incoming.meta;
  const line = row($('incoming'), `${name || 'unnamed'} from ${from}`, size);
  line.button.addEventListener('click', () => incoming.cancel('the receiver cancelled'));
  incoming.on('progress', line.progress);
  // A Blob of this size may live on disk rather than in the page's memory (browsers spill large Blobs).
  incoming.toBlob().then(
    (blob) => {
      line.end('received, SHA-256 checked');
      const link = document.createElement('a');
      link.href = URL.createObjectURL(blob);
      link.download = name || 'file';
      link.textContent = 'Save';
      line.item.append(' ', link);
    },
    (err) => line.end(err.code === 'CANCELLED' ? 'cancelled' : `failed: ${err.message}`, err.code !== 'CANCELLED'),
  );
});
