export { Broker } from './Broker';
export type { ListenOptions, BrokerAddress } from './Broker';
export { MemoryRouter } from './MemoryRouter';
export type { Router, RouteHolder, ClaimResult } from './Router';
export { DEFAULT_PATH } from './options';
export type { BrokerOptions, RpcMethod, RpcContext } from './options';
export { runCli } from './cli';
