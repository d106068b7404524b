import { parseClientMessage } from '../../src';

describe('parseClientMessage', () => {
  it('accepts each client message type', () => {
    expect(parseClientMessage('{"t":"hello","v":1,"role":"endpoint","eva":"a"}')).toMatchObject({ t: 'hello' });
    expect(parseClientMessage('{"t":"hello","v":1,"role":"rpc","eva":"a","session":"s","auth":"x"}')).toMatchObject({ role: 'rpc' });
    expect(parseClientMessage('{"t":"open","to":"b"}')).toEqual({ t: 'open', to: 'b' });
    expect(parseClientMessage('{"t":"close","to":"b"}')).toEqual({ t: 'close', to: 'b' });
    expect(parseClientMessage('{"t":"call","id":3,"method":"m","params":[1]}')).toMatchObject({ id: 3 });
    expect(parseClientMessage('{"t":"ping"}')).toEqual({ t: 'ping' });
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
    '{"t":"open","to":5}',
    '{"t":"close"}',
    '{"t":"call","id":"1","method":"m"}',
    '{"t":"call","id":1.5,"method":"m"}',
    '{"t":"call","id":1,"method":""}',
  ])('rejects %s with PROTOCOL', (text) => {
    expect(() => parseClientMessage(text)).toThrow(expect.objectContaining({ code: 'PROTOCOL' }));
  });
});
