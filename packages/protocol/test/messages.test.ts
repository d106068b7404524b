import { VnfError } from '@vnf/core';
import { parseBrokerMessage, parseClientMessage } from '../src';

describe('parseClientMessage', () => {
  it('accepts each client message type', () => {
    expect(parseClientMessage('{"t":"hello","v":1,"role":"endpoint","eva":"a"}')).toMatchObject({ t: 'hello' });
    expect(parseClientMessage('{"t":"hello","v":1,"role":"rpc","eva":"a","session":"s","auth":"x"}')).toMatchObject({ role: 'rpc' });
    expect(parseClientMessage('{"t":"open","to":"b"}')).toEqual({ t: 'open', to: 'b' });
    expect(parseClientMessage('{"t":"close","to":"b"}')).toEqual({ t: 'close', to: 'b' });
    expect(parseClientMessage('{"t":"call","id":3,"method":"m","params":[1]}')).toMatchObject({ id: 3 });
    expect(parseClientMessage('{"t":"ping"}')).toEqual({ t: 'ping' });
  });

  it('keeps an eva exactly as sent, a leading BOM and surrogate pairs included', () => {
    expect(parseClientMessage(JSON.stringify({ t: 'hello', v: 1, role: 'endpoint', eva: '\uFEFFcarol' }))).toMatchObject({ eva: '\uFEFFcarol' });
    expect(parseClientMessage('{"t":"open","to":"\\ud83d\\ude00"}')).toEqual({ t: 'open', to: '😀' });
  });

  it.each([
    'not json',
    '42',
    '[]',
    'null',
    '{"t":"nope"}',
    '{"t":"hello","v":"1","role":"endpoint","eva":"a"}',
    '{"t":"hello","v":1,"role":"admin","eva":"a"}',
    '{"t":"hello","v":1,"role":"endpoint","eva":""}',
    `{"t":"hello","v":1,"role":"endpoint","eva":"${'x'.repeat(257)}"}`,
    '{"t":"hello","v":1,"role":"endpoint","eva":"a","session":5}',
    // JSON escapes can carry lone surrogates, which UTF-8 would turn into U+FFFD: "x\uFFFD", another eva.
    '{"t":"hello","v":1,"role":"endpoint","eva":"x\\ud800"}',
    '{"t":"open","to":"\\udc00b"}',
    '{"t":"close","to":"b\\ud83d"}',
    '{"t":"open","to":5}',
    '{"t":"close"}',
    '{"t":"call","id":"1","method":"m"}',
    '{"t":"call","id":1.5,"method":"m"}',
    '{"t":"call","id":1,"method":""}',
  ])('rejects %s with PROTOCOL', (text) => {
    expect(() => parseClientMessage(text)).toThrow(expect.objectContaining({ code: 'PROTOCOL' }));
  });
});

describe('parseBrokerMessage', () => {
  it('reads the limits of a welcome; without them a broker sets none', () => {
    expect(parseBrokerMessage('{"t":"welcome","session":"s","maxFrame":1048576}')).toEqual({ t: 'welcome', session: 's', maxFrame: 1048576 });
    expect(parseBrokerMessage('{"t":"welcome","session":"s","maxFrame":1,"limits":{}}')).toMatchObject({ limits: {} });
    expect(parseBrokerMessage('{"t":"welcome","session":"s","maxFrame":1,"limits":{"callsInFlight":16,"controlPerSecond":2000}}')).toMatchObject({
      limits: { callsInFlight: 16, controlPerSecond: 2000 },
    });
    // A limit a later broker adds is not this client's business.
    expect(parseBrokerMessage('{"t":"welcome","session":"s","maxFrame":1,"limits":{"callsInFlight":1,"somethingNew":"x"}}')).toMatchObject({
      limits: { callsInFlight: 1 },
    });
  });

  it.each([
    '{"t":"welcome","session":"s","maxFrame":1,"limits":null}',
    '{"t":"welcome","session":"s","maxFrame":1,"limits":[]}',
    '{"t":"welcome","session":"s","maxFrame":1,"limits":5}',
    '{"t":"welcome","session":"s","maxFrame":1,"limits":{"callsInFlight":0}}',
    '{"t":"welcome","session":"s","maxFrame":1,"limits":{"callsInFlight":-1}}',
    '{"t":"welcome","session":"s","maxFrame":1,"limits":{"callsInFlight":1.5}}',
    '{"t":"welcome","session":"s","maxFrame":1,"limits":{"callsInFlight":"16"}}',
    '{"t":"welcome","session":"s","maxFrame":1,"limits":{"callsInFlight":null}}',
    '{"t":"welcome","session":"s","maxFrame":1,"limits":{"controlPerSecond":1e300}}',
    '{"t":"welcome","session":"s","maxFrame":1,"limits":{"controlPerSecond":0}}',
  ])('rejects the welcome %s with PROTOCOL: a limit is a positive integer', (text) => {
    let thrown: unknown;
    try {
      parseBrokerMessage(text);
    } catch (err) {
      thrown = err;
    }
    expect(VnfError.is(thrown, 'PROTOCOL')).toBe(true);
    expect((thrown as VnfError).message).toContain('limits');
  });
});

describe('groups (docs/protocol.md, Groups)', () => {
  it('parses group and ungroup', () => {
    expect(parseClientMessage('{"t":"group","id":"g0","targets":["a","b"]}')).toEqual({ t: 'group', id: 'g0', targets: ['a', 'b'] });
    expect(parseClientMessage('{"t":"group","id":"g0","targets":[]}')).toEqual({ t: 'group', id: 'g0', targets: [] });
    expect(parseClientMessage('{"t":"ungroup","id":"room-1"}')).toEqual({ t: 'ungroup', id: 'room-1' });
  });

  it.each([
    '{"t":"group","targets":["a"]}',
    '{"t":"group","id":"","targets":["a"]}',
    '{"t":"group","id":"has space","targets":["a"]}',
    '{"t":"group","id":"é","targets":["a"]}',
    `{"t":"group","id":"${'x'.repeat(65)}","targets":["a"]}`,
    '{"t":"group","id":"g","targets":"a"}',
    '{"t":"group","id":"g","targets":["a",""]}',
    '{"t":"group","id":"g","targets":["a",7]}',
    '{"t":"ungroup","id":5}',
  ])('rejects %s with PROTOCOL', (text) => {
    expect(() => parseClientMessage(text)).toThrow(expect.objectContaining({ code: 'PROTOCOL' }));
  });

  it("reads a welcome's groups, and refuses one that is not two positive integers", () => {
    expect(parseBrokerMessage('{"t":"welcome","session":"s","maxFrame":1,"groups":{"max":64,"maxTargets":1024,"later":1}}')).toMatchObject({
      groups: { max: 64, maxTargets: 1024 },
    });
    expect(parseBrokerMessage('{"t":"welcome","session":"s","maxFrame":1}')).not.toHaveProperty('groups');
    for (const groups of ['null', '[]', '{"max":64}', '{"max":0,"maxTargets":1}', '{"max":1,"maxTargets":1.5}']) {
      expect(() => parseBrokerMessage(`{"t":"welcome","session":"s","maxFrame":1,"groups":${groups}}`)).toThrow(expect.objectContaining({ code: 'PROTOCOL' }));
    }
  });
});
