/**
 * `fetchbox/client`: the typed client of the FetchBox HTTP API, for crawlers and scripts
 * (docs/api.md "Typed client"). Loads no server code.
 */
export * from './fetchbox-client.js';
