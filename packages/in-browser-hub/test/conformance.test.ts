import { hubConformance } from '@vnf/conformance';
import { InBrowserHub } from '../src';

hubConformance('InBrowserHub', { createHub: () => new InBrowserHub() });
hubConformance('InBrowserHub with latency', { createHub: () => new InBrowserHub({ latencyMs: 5 }), messageCount: 50 });
