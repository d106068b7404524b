export { Broker } from './Broker';
export type { ListenOptions, BrokerAddress } from './Broker';
export type { BrokerHealth, RequestHandler } from './httpHandlers';
export { MemoryRouter } from './MemoryRouter';
export { MemoryBus } from './MemoryBus';
export type { Bus, BusMember, BusMessage, Router, RouteHolder, ClaimResult, RenewedClaim } from '@vnf/protocol';
export { DEFAULT_PATH } from './options';
export type { BrokerOptions, BrokerRedisOptions, RpcMethod, RpcContext } from './options';
export { runCli } from './cli';
