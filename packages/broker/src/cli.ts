import { readFileSync } from 'node:fs';
import { Broker } from './Broker';
import { DEFAULT_PATH, type BrokerOptions, type BrokerRedisOptions } from './options';

/** Broker options the command line sets, each as `--kebab-case-name N` (and as its own name in `--config`). */
const NUMERIC = [
  'maxPayload',
  'sendBufferLimit',
  'relayHighWaterMark',
  'slowConsumerTimeoutMs',
  'maxMessagesPerSecond',
  'maxControlPerSecond',
  'maxControlPerSecondPerClient',
  'maxGroupsPerSocket',
  'maxGroupTargets',
  'maxCallsInFlight',
  'maxOpensInFlight',
  'maxReplyBytes',
  'watchLagBytes',
  'evaGraceMs',
  'heartbeatIntervalMs',
  'helloTimeoutMs',
  'maxPendingPerClient',
  'maxEvasPerClient',
  'maxWatchesPerClient',
  'maxNotifyBytesPerSecondPerClient',
  'maxControlBytesPerSecondPerClient',
  'maxReplyBytesPerSecondPerClient',
  'maxConnections',
  'maxConnectionsPerAddress',
  'headersTimeoutMs',
  'requestTimeoutMs',
  'claimTtlMs',
] as const;
/** Limits of the default registry store: `--registry-max-value-bytes N` and `registry: { maxValueBytes }` in --config. */
const REGISTRY = ['maxValueBytes', 'maxEntriesPerOwner', 'maxBytesPerOwner', 'maxKeyLength', 'maxRetainedEntriesPerCollection', 'maxRetainedBytesPerCollection', 'maxLogEntries', 'maxLogBytes', 'maxRoomStateEntries', 'maxRoomStateBytes', 'roomStateTtlMs'] as const;

const kebab = (name: string): string => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
const FLAGS = new Map<string, string>([
  ...NUMERIC.map((name) => [`--${kebab(name)}`, name] as [string, string]),
  ...REGISTRY.map((name) => [`--registry-${kebab(name)}`, `registry.${name}`] as [string, string]),
]);

const USAGE = `Usage: vnf-broker [--port 8080] [--host 127.0.0.1] [--path ${DEFAULT_PATH}] [--config broker.json] [limits…]

Starts a VNF broker (relay, signaling and registry) and prints its ws:// URL.
  --port N              TCP port; 0 picks a free one (default 8080)
  --host H              interface to bind (default 127.0.0.1; 0.0.0.0 for every interface)
  --path P              WebSocket path (default ${DEFAULT_PATH})
  --config FILE         a JSON file of broker options (the names of BrokerOptions, plus "port" and "host");
                        flags given on the command line win over it
  --allowed-origins A,B origins browsers may connect from (default: any)
  --trust-proxy N       behind N reverse proxies (true = 1): read the client address from X-Forwarded-For
  --redis URL           join a cluster on this Redis (redis://host:port): brokers given the same URL
                        share endpoints, connections and the registry (docs/cluster.md)
  --redis-key-prefix P  prefix of the cluster's keys (default vnf:); clusters on one Redis differ
  --node-ttl-ms N       how long a dead broker's lease outlives it before its peers hear it is gone (default 15000)
  --help                show this help
Limits (0 lifts a limit; see docs/security.md for each and its default):
${[...FLAGS.keys()].map((flag) => `  ${flag} N`).join('\n')}
Stops cleanly on SIGINT or SIGTERM. Debug logs: DEBUG=vnf:*`;

interface CliIo {
  out(line: string): void;
  err(line: string): void;
}

const processIo: CliIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

interface CliArgs {
  port: number;
  host: string;
  options: BrokerOptions;
}

/** Runs the vnf-broker command; resolves the exit code once the broker stopped (or failed to start). */
export async function runCli(argv: string[], io: CliIo = processIo): Promise<number> {
  let args: CliArgs | 'help';
  let broker: Broker;
  try {
    args = parseArgs(argv);
    if (args === 'help') {
      io.out(USAGE);
      return 0;
    }
    broker = new Broker(args.options);
  } catch (err) {
    io.err(`vnf-broker: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
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

function parseArgs(argv: string[]): CliArgs | 'help' {
  const flags: [string, string][] = [];
  let config: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--help' || arg === '-h') return 'help';
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg : arg.slice(0, eq);
    const value = eq === -1 ? argv[++i] : arg.slice(eq + 1);
    if (!name.startsWith('--')) throw new Error(`unknown argument ${JSON.stringify(arg)}`);
    if (value === undefined || value === '') throw new Error(`${name} needs a value`);
    if (name === '--config') config = value;
    else flags.push([name, value]);
  }
  const args: CliArgs = { port: 8080, host: '127.0.0.1', options: {} };
  if (config !== undefined) applyConfig(args, config);
  for (const [name, value] of flags) applyFlag(args, name, value);
  return args;
}

function applyConfig(args: CliArgs, file: string): void {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`--config ${file}: ${(err as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error(`--config ${file} must hold a JSON object of broker options`);
  const { port, host, ...options } = parsed as Record<string, unknown>;
  if (port !== undefined) args.port = portOf(String(port));
  if (host !== undefined) args.host = String(host);
  // Unknown names and bad values are refused by the Broker itself, with the option's name.
  args.options = { ...(options as BrokerOptions) };
}

function applyFlag(args: CliArgs, name: string, value: string): void {
  switch (name) {
    case '--port':
      args.port = portOf(value);
      return;
    case '--host':
      args.host = value;
      return;
    case '--path':
      if (!value.startsWith('/')) throw new Error(`--path must start with '/'; got ${value}`);
      args.options.path = value;
      return;
    case '--allowed-origins':
      args.options.allowedOrigins = value.split(',').map((o) => o.trim()).filter(Boolean);
      return;
    case '--redis':
      args.options.redis = { ...redisOf(args), url: value };
      return;
    case '--redis-key-prefix':
      args.options.redis = { ...redisOf(args), keyPrefix: value };
      return;
    case '--node-ttl-ms':
      args.options.redis = { ...redisOf(args), nodeTtlMs: integerOf(name, value) };
      return;
    case '--trust-proxy':
      args.options.trustProxy = value === 'true' ? true : value === 'false' ? false : integerOf(name, value);
      return;
  }
  const option = FLAGS.get(name);
  if (!option) throw new Error(`unknown argument ${JSON.stringify(name)}`);
  const n = integerOf(name, value);
  if (option.startsWith('registry.')) {
    args.options.registry = { ...args.options.registry, [option.slice('registry.'.length)]: n };
  } else {
    (args.options as Record<string, unknown>)[option] = n;
  }
}

/** The `redis` option as set so far (by --config or an earlier flag), in its object form. */
function redisOf(args: CliArgs): BrokerRedisOptions {
  const { redis } = args.options;
  return typeof redis === 'string' ? { url: redis } : { url: '', ...redis };
}

function portOf(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be 0..65535; got ${value}`);
  return port;
}

function integerOf(name: string, value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n)) throw new Error(`${name} takes a whole number (0 lifts the limit); got ${value}`);
  return n;
}
