export { Broker } from './Broker';
export type { ListenOptions, BrokerAddress } from './Broker';
export { MemoryRouter } from './MemoryRouter';
export { MemoryBus } from './MemoryBus';
export type { Bus, BusMember, BusMessage } from './Bus';
export type { Router, RouteHolder, ClaimResult, RenewedClaim } from './Router';
export { DEFAULT_PATH } from './options';
export type { BrokerOptions, RpcMethod, RpcContext } from './options';
export { runCli } from './cli';
