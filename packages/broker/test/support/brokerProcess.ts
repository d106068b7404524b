// A broker in a process of its own, from the built package (`npm run build` makes packages/broker/dist): the
// `vnf-broker` command exactly as an operator runs it. kill() is kill -9: no close frame, no lease given back.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const BIN = join(__dirname, '../../bin/vnf-broker.js');
const BUILT = join(__dirname, '../../dist/index.cjs');

export interface BrokerProcess {
  url: string;
  pid: number;
  /** SIGKILL, and resolves once the process is gone. */
  kill(): Promise<void>;
  /** SIGTERM (a clean shutdown), and resolves once the process is gone; a no-op when it already is. */
  stop(): Promise<void>;
}

export async function startBrokerProcess(args: string[]): Promise<BrokerProcess> {
  if (!existsSync(BUILT)) throw new Error(`${BUILT} is missing: run \`npm run build\` first (CI builds before testing)`);
  const child = spawn(process.execPath, [BIN, '--port', '0', '--host', '127.0.0.1', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const url = await new Promise<string>((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`vnf-broker did not start within 15 s:\n${output}`)), 15_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening on (ws:\/\/\S+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`vnf-broker exited with ${code}:\n${output}`));
    });
  });
  const gone = (signal: NodeJS.Signals) => {
    if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    return new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill(signal);
    });
  };
  return { url, pid: child.pid!, kill: () => gone('SIGKILL'), stop: () => gone('SIGTERM') };
}

export type { ChildProcess };
