import type { Handler } from '../../src/handlers/handler.js';

/** See store-split-handler.mjs. */
export declare const splitHandler: Handler;
