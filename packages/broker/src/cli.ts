import { Broker } from './Broker';
import { DEFAULT_PATH } from './options';

const USAGE = `Usage: vnf-broker [--port 8080] [--host 127.0.0.1] [--path ${DEFAULT_PATH}]

Starts a VNF broker (relay, signaling and registry) and prints its ws:// URL.
  --port   TCP port; 0 picks a free one (default 8080)
  --host   interface to bind (default 127.0.0.1; 0.0.0.0 for every interface)
  --path   WebSocket path (default ${DEFAULT_PATH})
  --help   show this help
Stops cleanly on SIGINT or SIGTERM. Debug logs: DEBUG=vnf:*`;

interface CliIo {
  out(line: string): void;
  err(line: string): void;
}

const processIo: CliIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

/** Runs the vnf-broker command; resolves the exit code once the broker stopped (or failed to start). */
export async function runCli(argv: string[], io: CliIo = processIo): Promise<number> {
  let args: { port: number; host: string; path: string } | 'help';
  try {
    args = parseArgs(argv);
  } catch (err) {
    io.err(`vnf-broker: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (args === 'help') {
    io.out(USAGE);
    return 0;
  }
  const broker = new Broker({ path: args.path });
  let address;
  try {
    address = await broker.listen({ port: args.port, host: args.host });
  } catch (err) {
    await broker.close();
    io.err(`vnf-broker: could not listen on ${args.host}:${args.port}: ${(err as Error).message}`);
    return 1;
  }
  io.out(`vnf-broker listening on ${address.url}`);
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await broker.close();
  return 0;
}

function parseArgs(argv: string[]): { port: number; host: string; path: string } | 'help' {
  const args = { port: 8080, host: '127.0.0.1', path: DEFAULT_PATH };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--help' || arg === '-h') return 'help';
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg : arg.slice(0, eq);
    if (name !== '--port' && name !== '--host' && name !== '--path') throw new Error(`unknown argument ${JSON.stringify(arg)}`);
    const value = eq === -1 ? argv[++i] : arg.slice(eq + 1);
    if (value === undefined || value === '') throw new Error(`${name} needs a value`);
    if (name === '--port') {
      const port = Number(value);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be 0..65535; got ${value}`);
      args.port = port;
    } else if (name === '--host') args.host = value;
    else {
      if (!value.startsWith('/')) throw new Error(`--path must start with '/'; got ${value}`);
      args.path = value;
    }
  }
  return args;
}
