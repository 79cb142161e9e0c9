import { existsSync } from 'node:fs';
import { registerHooks } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { handlerCodePolicySchema } from '../config/config-schema.js';
import type { Handler } from './handler.js';
import { BUILT_IN_HANDLERS, HandlerRegistry } from './registry.js';

/**
 * A handler name from outside FetchBox: 1-128 characters of `[A-Za-z0-9._:-]`, the jobId's rule,
 * so manifests, the list filters (`?handler=`) and metric labels all take it as it is.
 */
export const HANDLER_NAME = /^[A-Za-z0-9._:-]{1,128}$/;

/** The hooks a handler may have; each must be a function when present. */
const HOOKS = ['expand', 'headers', 'storageKey', 'storeFor', 'objectOptions'] as const;

/** Most handlers one module may export: a registry is a startup-time list, not a data set. */
export const MAX_HANDLERS_PER_MODULE = 1_000;

/** Longest piece of a module's own text (a thrown message, a bad name) repeated in an error. */
const MAX_QUOTED_CHARS = 300;

/**
 * A handler module named by `--handlers` / `FETCHBOX_HANDLERS` (or given to `startWorker`) cannot
 * be used: not found, threw while loading, exports no handler, exports an invalid one, or a name
 * clashes. The CLI prints the message and exits 3, like any configuration error.
 */
export class HandlerModuleError extends Error {
  override readonly name = 'HandlerModuleError';
  constructor(
    readonly module: string,
    detail: string,
    options?: ErrorOptions,
  ) {
    super(`handler module ${JSON.stringify(module)}: ${detail}`, options);
  }
}

/** A module's handlers, as loaded. */
export interface LoadedHandlerModule {
  /** The specifier as given. */
  module: string;
  /** The file it resolved to. */
  url: string;
  /** The names of the handlers it added. */
  handlers: string[];
}

/** The registry a process runs with: the built-in handlers and every module's. */
export interface LoadedHandlers {
  registry: HandlerRegistry;
  modules: LoadedHandlerModule[];
}

/** Text from a module (a thrown value, a name) cut to a length a log line holds; never throws. */
function quote(value: unknown): string {
  let text: string;
  try {
    text = value instanceof Error ? `${value.name}: ${value.message}` : typeof value === 'string' ? value : String(value);
  } catch {
    text = Object.prototype.toString.call(value);
  }
  return text.length > MAX_QUOTED_CHARS ? `${text.slice(0, MAX_QUOTED_CHARS)}...` : text;
}

/** `--handlers a.js,b.js --handlers c` and `FETCHBOX_HANDLERS=a.js, b.js`: the module specifiers, in order. */
export function splitModuleList(values: readonly string[]): string[] {
  return values
    .flatMap((v) => v.split(','))
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

/** `./x.js`, `../x.js`, `/abs/x.js` and `file:` URLs are paths; anything else is a package name. */
function isPathSpecifier(spec: string): boolean {
  return (
    spec === '.' || spec === '..' || spec.startsWith('./') || spec.startsWith('../') || path.isAbsolute(spec) || spec.startsWith('file:')
  );
}

/** Marks a specifier the resolve hook below resolves from the working directory. */
const FROM_CWD = 'fetchbox-handler-module:';

/**
 * The URL a specifier names: a path relative to `cwd`, or a package resolved as an `import` from
 * `cwd` would resolve it (its `exports` with the `import` and `node` conditions, then `main`).
 * Node resolves package names from the importing file, and FetchBox's files are not the user's
 * project: a resolve hook (Node's `module.registerHooks`, in this thread, removed again at once)
 * resolves this one specifier with the working directory as its parent.
 */
export function resolveHandlerModule(spec: string, cwd: string): string {
  if (isPathSpecifier(spec)) {
    let file: string;
    try {
      file = spec.startsWith('file:') ? new URL(spec).pathname : path.resolve(cwd, spec);
    } catch (err) {
      throw new HandlerModuleError(spec, `not a file URL (${quote(err)})`, { cause: err });
    }
    if (!existsSync(file)) throw new HandlerModuleError(spec, `no such file: ${file}`);
    return pathToFileURL(file).href;
  }
  const parentURL = pathToFileURL(path.resolve(cwd) + path.sep).href;
  const hooks = registerHooks({
    resolve(specifier, context, nextResolve) {
      if (specifier.startsWith(FROM_CWD)) return nextResolve(specifier.slice(FROM_CWD.length), { ...context, parentURL });
      return nextResolve(specifier, context);
    },
  });
  try {
    return import.meta.resolve(FROM_CWD + spec);
  } catch (err) {
    const hint = existsSync(path.resolve(cwd, spec)) ? `; a file ${spec} exists there: write ./${spec} to load it as a path` : '';
    throw new HandlerModuleError(spec, `cannot find it as a package from ${path.resolve(cwd)} (${quote(err)})${hint}`, { cause: err });
  } finally {
    hooks.deregister();
  }
}

/** True for a value that claims to be a handler: an object (not an array or a function) with a `name`. */
function claimsHandler(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && 'name' in value;
}

/**
 * Checks one exported handler and returns a copy FetchBox can rely on: the name, description and
 * policy read once (the policy as structured data, checked like configuration's
 * `handlers.<name>.policy` but without coercion), each hook a function called on the original
 * object (so methods keep their `this`). A getter that later returns something else, or a policy
 * mutated after start, cannot reach a job.
 */
export function checkHandler(module: string, where: string, value: Record<string, unknown>): Handler {
  const fail = (detail: string): never => {
    throw new HandlerModuleError(module, `${where}: ${detail}`);
  };
  const name = value.name;
  if (typeof name !== 'string') return fail(`its name must be a string, not ${name === null ? 'null' : typeof name}`);
  if (!HANDLER_NAME.test(name))
    return fail(`name ${JSON.stringify(quote(name))} is not a handler name (1-128 characters of A-Z a-z 0-9 . _ : -)`);
  const handler: { -readonly [K in keyof Handler]: Handler[K] } = { name };
  const description = value.description;
  if (description !== undefined) {
    if (typeof description !== 'string') return fail(`description must be a string, not ${typeof description}`);
    handler.description = description.slice(0, 1_000);
  }
  for (const hook of HOOKS) {
    const fn = value[hook];
    if (fn === undefined) continue;
    if (typeof fn !== 'function') return fail(`${hook} must be a function, not ${fn === null ? 'null' : typeof fn}`);
    (handler as Record<string, unknown>)[hook] = (...args: unknown[]) => (fn as (...a: unknown[]) => unknown).apply(value, args);
  }
  const policy = value.policy;
  if (policy !== undefined) {
    let copy: unknown;
    try {
      copy = structuredClone(policy);
    } catch (err) {
      return fail(`policy must be plain data (${quote(err)})`);
    }
    const parsed = handlerCodePolicySchema.safeParse(copy);
    if (!parsed.success) {
      const issues = parsed.error.issues.slice(0, 5).map((i) => `${['policy', ...i.path].join('.')}: ${i.message}`);
      return fail(`invalid policy: ${issues.join('; ')}`);
    }
    // The checked copy, as written: the schema only validates (no defaults are filled in).
    handler.policy = copy as Handler['policy'];
  }
  return handler;
}

/**
 * The handlers a module exports: its default export and named exports that are handlers (objects
 * with a `name`) or arrays of them, each checked by {@link checkHandler}; one object exported twice
 * counts once. Other exports (functions, constants, objects without a `name`) are left alone.
 * A module with no handler is an error.
 */
export function handlersOfModule(module: string, namespace: Record<string, unknown>): Handler[] {
  const seen = new Map<unknown, Handler>();
  let keys: string[];
  try {
    keys = Object.keys(namespace);
  } catch (err) {
    throw new HandlerModuleError(module, `its exports cannot be listed (${quote(err)})`, { cause: err });
  }
  const add = (where: string, value: Record<string, unknown>) => {
    if (seen.has(value)) return;
    if (seen.size >= MAX_HANDLERS_PER_MODULE) throw new HandlerModuleError(module, `exports more than ${MAX_HANDLERS_PER_MODULE} handlers`);
    seen.set(value, checkHandler(module, where, value));
  };
  for (const key of keys) {
    const where = key === 'default' ? 'default export' : `export ${key}`;
    try {
      const value = namespace[key];
      if (Array.isArray(value)) {
        if (!value.some(claimsHandler)) continue;
        if (value.length > MAX_HANDLERS_PER_MODULE)
          throw new HandlerModuleError(module, `${where} has more than ${MAX_HANDLERS_PER_MODULE} entries`);
        value.forEach((item: unknown, i) => {
          if (!claimsHandler(item)) throw new HandlerModuleError(module, `${where}[${i}] is not a handler (an object with a name)`);
          add(`${where}[${i}]`, item);
        });
      } else if (claimsHandler(value)) {
        add(where, value);
      }
    } catch (err) {
      if (err instanceof HandlerModuleError) throw err;
      // A getter, a Proxy trap or a revoked Proxy threw while FetchBox looked at it.
      throw new HandlerModuleError(module, `${where}: reading it threw (${quote(err)})`, { cause: err });
    }
  }
  if (seen.size === 0) {
    const listed = keys.length === 0 ? 'none' : keys.slice(0, 10).join(', ');
    throw new HandlerModuleError(
      module,
      `exports no handler (an object with a name, e.g. \`export default defineHandler({ name: 'my-handler' })\`); its exports: ${listed}`,
    );
  }
  return [...seen.values()];
}

/**
 * Builds the registry from the built-in handlers and `extra` ones, each tagged with where it came
 * from: a name taken by a built-in handler or by an earlier source is an error naming both.
 */
export function registryWith(extra: readonly { source: string; handlers: readonly Handler[] }[]): HandlerRegistry {
  const owner = new Map<string, string>(BUILT_IN_HANDLERS.map((h) => [h.name, 'built-in']));
  const handlers: Handler[] = [...BUILT_IN_HANDLERS];
  for (const { source, handlers: theirs } of extra) {
    for (const h of theirs) {
      const taken = owner.get(h.name);
      if (taken !== undefined) {
        const by =
          taken === 'built-in'
            ? 'a built-in handler'
            : taken === source
              ? 'another of its exports'
              : `handler module ${JSON.stringify(taken)}`;
        throw new HandlerModuleError(source, `handler name ${JSON.stringify(h.name)} is taken by ${by}`);
      }
      owner.set(h.name, source);
      handlers.push(h);
    }
  }
  return new HandlerRegistry(handlers);
}

/**
 * Loads handler modules (`--handlers`, `FETCHBOX_HANDLERS`) in order, relative to `cwd`, and
 * returns the registry with the built-in handlers and theirs. Any problem throws
 * {@link HandlerModuleError} naming the module: the process must not start with fewer handlers
 * than asked for, or the API would refuse jobs the workers could run (or the other way round).
 */
export async function loadHandlerModules(specs: readonly string[], cwd: string = process.cwd()): Promise<LoadedHandlers> {
  const modules: LoadedHandlerModule[] = [];
  const extra: { source: string; handlers: Handler[] }[] = [];
  const byUrl = new Set<string>();
  for (const spec of specs) {
    const url = resolveHandlerModule(spec, cwd);
    // The same file named twice (a path and its package name, say) is loaded once.
    if (byUrl.has(url)) continue;
    byUrl.add(url);
    let namespace: Record<string, unknown>;
    try {
      namespace = (await import(url)) as Record<string, unknown>;
    } catch (err) {
      throw new HandlerModuleError(spec, `failed to load ${url}: ${quote(err)}`, { cause: err });
    }
    const handlers = handlersOfModule(spec, namespace);
    extra.push({ source: spec, handlers });
    modules.push({ module: spec, url, handlers: handlers.map((h) => h.name) });
  }
  return { registry: registryWith(extra), modules };
}
