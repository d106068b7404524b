import { routerConformance } from '@vnf/conformance';
import { MemoryRouter } from '../src';

routerConformance('MemoryRouter', {
  // One MemoryRouter shared by two brokers of one process: both handles are the same table.
  create: async () => {
    const router = new MemoryRouter();
    return [router, router];
  },
});
