// What `require('vnf')` and the browser bundle's `window.Vnf` expose, compared with a reviewed list: a name that
// appears or disappears fails here, so that internals (codec helpers, the broker's registry service) never become
// public by accident and nothing public is dropped unnoticed. seed-in-browser.test.ts checks that window.Vnf in
// Chromium has exactly these keys too.
import * as Vnf from 'vnf';
import { PUBLIC_API } from './publicApi';

it('exports exactly the reviewed public API', () => {
  expect(Object.keys(Vnf).sort()).toEqual([...PUBLIC_API].sort());
});

it('leaves the wire format and the broker side out', () => {
  for (const internal of ['FrameWriter', 'readRecords', 'writeRecords', 'parseClientMessage', 'RegistryService', 'RawJson', 'ENTRY_JSON', 'createLogger']) {
    expect(Object.keys(Vnf)).not.toContain(internal);
  }
});
