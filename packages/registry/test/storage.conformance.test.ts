import { registryStorageConformance } from '@vnf/conformance';
import { MemoryRegistryStorage } from '../src';

registryStorageConformance('MemoryRegistryStorage', {
  create: async (options) => new MemoryRegistryStorage(options),
});
