import { AbstractEndpoint, ConnectionStatus, VnfError } from '../src';
import type { ConnectionEvent } from '../src';

/** An endpoint whose transport never answers: exercises the base class's timeouts and bookkeeping. */
class SilentEndpoint extends AbstractEndpoint {
  aborted: string[] = [];
  tornDown: string[][] = [];
  protected connect(targetEva: string, signal: AbortSignal): Promise<ConnectionEvent> {
    signal.addEventListener('abort', () => this.aborted.push(targetEva));
    return new Promise(() => undefined);
  }
  protected disconnect(): void {}
  protected transmit(): void {}
  protected teardown(peers: string[]): void {
    this.tornDown.push(peers);
  }
}

describe('AbstractEndpoint', () => {
  it('ends a connection attempt that gets no answer in TIMEOUT and aborts the transport', async () => {
    const endpoint = new SilentEndpoint('a', { connectTimeoutMs: 50 });
    const calls: ConnectionEvent[] = [];
    const result = await endpoint.openConnection('b', (e) => calls.push(e));
    expect(result).toEqual({ status: ConnectionStatus.TIMEOUT, targetEva: 'b', reason: 'TIMEOUT' });
    expect(calls).toEqual([result]);
    expect(endpoint.aborted).toEqual(['b']);
    endpoint.destroy();
  });

  it('ends a pending attempt in FAILED/DESTROYED when the endpoint is destroyed', async () => {
    const endpoint = new SilentEndpoint('a', { connectTimeoutMs: 60_000 });
    const pending = endpoint.openConnection('b');
    endpoint.destroy();
    await expect(pending).resolves.toEqual({ status: ConnectionStatus.FAILED, targetEva: 'b', reason: 'DESTROYED' });
    expect(endpoint.tornDown).toEqual([[]]);
  });

  it('refuses a connection to itself', async () => {
    const endpoint = new SilentEndpoint('a');
    await expect(endpoint.openConnection('a')).resolves.toEqual({ status: ConnectionStatus.FAILED, targetEva: 'a', reason: 'SELF' });
    endpoint.destroy();
  });

  it('rejects bad arguments with INVALID_ARGUMENT', () => {
    expect(() => new SilentEndpoint('')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => new SilentEndpoint('x'.repeat(257))).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => new SilentEndpoint('a', { connectTimeoutMs: 0 })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    const endpoint = new SilentEndpoint('a');
    expect(() => endpoint.openConnection(42 as unknown as string)).toThrow(VnfError);
    expect(() => endpoint.openConnection('b', 'not a function' as unknown as () => void)).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
    endpoint.destroy();
  });
});
