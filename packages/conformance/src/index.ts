export { hubConformance } from './hubConformance';
export type { HubConformanceSetup } from './hubConformance';
export { registryConformance } from './registryConformance';
export type { RegistryConformanceSetup, RegistryFixture } from './registryConformance';
export { until, waitFor, uniqueEva } from './waiting';
export { ResourceTracker, trackResources } from './resources';
export type { LiveResource } from './resources';
