import { defineHandler, type Handler } from './handler.js';
import { linkExpanderHandler } from './link-expander.js';

/** Downloads the manifest's resources as they are, to their `key` or the default key. */
export const defaultHandler = defineHandler({
  name: 'default',
  description: 'Downloads each manifest resource as given.',
});

/** A manifest named a handler this build does not have. */
export class UnknownHandlerError extends Error {
  override readonly name = 'UnknownHandlerError';
  constructor(
    readonly handler: string,
    readonly known: readonly string[],
  ) {
    super(`unknown handler ${JSON.stringify(handler)}; known: ${known.join(', ')}`);
  }
}

/** Handlers by name. The API checks names against it; activities run the hooks. */
export class HandlerRegistry {
  private readonly byName = new Map<string, Handler>();

  constructor(handlers: readonly Handler[]) {
    for (const h of handlers) {
      if (this.byName.has(h.name)) throw new Error(`handler ${h.name} is registered twice`);
      this.byName.set(h.name, h);
    }
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  names(): string[] {
    return [...this.byName.keys()];
  }

  /** The handler, or UnknownHandlerError. */
  get(name: string): Handler {
    const h = this.byName.get(name);
    if (!h) throw new UnknownHandlerError(name, this.names());
    return h;
  }
}

/** The handlers built into this binary. Add yours here and rebuild the worker (docs/handlers.md). */
export const BUILT_IN_HANDLERS: readonly Handler[] = [defaultHandler, linkExpanderHandler];

/** A registry of the {@link BUILT_IN_HANDLERS}: what the API and the worker load. */
export function builtInHandlers(): HandlerRegistry {
  return new HandlerRegistry(BUILT_IN_HANDLERS);
}
