export { InBrowserHub, DEFAULT_IN_BROWSER_MAX_PAYLOAD, DEFAULT_IN_BROWSER_LOW_WATER_MARK, DEFAULT_IN_BROWSER_HIGH_WATER_MARK } from './InBrowserHub';
export type { InBrowserHubOptions } from './InBrowserHub';
export { InBrowserEndpoint } from './InBrowserEndpoint';
