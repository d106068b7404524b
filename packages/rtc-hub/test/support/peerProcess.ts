import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build, stop } from 'esbuild';

const packagesDir = resolve(__dirname, '../../..');

/** The child: an RtcHub endpoint over the broker that connects to `target`, then says "ready" and idles. */
const CHILD_SOURCE = `
import { RtcHub } from '@vnf/rtc-hub';
import { WebSocketFactory, WebSocketHub } from '@vnf/websocket-hub';
const [url, eva, target] = process.argv.slice(2);
const hub = new RtcHub(new WebSocketHub(new WebSocketFactory(url)));
const endpoint = hub.openEndpoint(eva);
endpoint.onMessage = (e) => endpoint.send(e.sourceEva, 'echo:' + e.message);
endpoint.openConnection(target).then((event) => process.stdout.write(event.status + '\\n'));
`;

/** Bundles the child from the TypeScript sources (no build needed) and starts it. */
export async function spawnPeer(url: string, eva: string, target: string): Promise<{ child: ChildProcess; firstLine: Promise<string>; cleanup(): void }> {
  const dir = mkdtempSync(join(tmpdir(), 'rtc-peer-'));
  const entry = join(dir, 'child.ts');
  writeFileSync(entry, CHILD_SOURCE);
  const out = join(dir, 'child.cjs');
  await build({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    outfile: out,
    logLevel: 'error',
    nodePaths: [resolve(packagesDir, '../node_modules')],
    external: ['@roamhq/wrtc', 'ws', 'simple-peer', 'debug', 'eventemitter3', 'isomorphic-ws'],
    plugins: [
      {
        name: 'vnf-sources',
        setup(build) {
          build.onResolve({ filter: /^@vnf\/[^/]+$/ }, (args) => ({ path: join(packagesDir, args.path.slice(5), 'src/index.ts') }));
        },
      },
    ],
  });
  // esbuild keeps a service process for further builds; one build is all this needs.
  await stop();
  const child = spawn(process.execPath, [out, url, eva, target], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, NODE_PATH: resolve(packagesDir, '../node_modules') },
  });
  const firstLine = new Promise<string>((resolveLine, reject) => {
    let text = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      if (text.includes('\n')) resolveLine(text.split('\n')[0]);
    });
    child.once('exit', (code) => reject(new Error(`peer process exited (${code}) before it connected`)));
  });
  return { child, firstLine, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
