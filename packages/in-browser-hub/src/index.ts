export { InBrowserHub, DEFAULT_IN_BROWSER_MAX_PAYLOAD } from './InBrowserHub';
export type { InBrowserHubOptions } from './InBrowserHub';
export { InBrowserEndpoint } from './InBrowserEndpoint';
