import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import {
  checkHandler,
  HandlerModuleError,
  handlersOfModule,
  loadHandlerModules,
  MAX_HANDLERS_PER_MODULE,
  splitModuleList,
} from '../../src/handlers/handler-modules.js';
import { startWorker } from '../../src/worker/start-worker.js';

let dir: string;

/** Writes a module file under the temporary directory; returns its path. */
async function file(name: string, text: string): Promise<string> {
  const full = path.join(dir, name);
  await mkdir(path.dirname(full), { recursive: true });
  await writeFile(full, text);
  return full;
}

/** The HandlerModuleError `promise` rejects with (fails the test when it resolves or throws something else). */
async function moduleError(promise: Promise<unknown>): Promise<HandlerModuleError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(HandlerModuleError);
  return err as HandlerModuleError;
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'fetchbox-handler-modules-'));
  await file(
    'team.mjs',
    `export default { name: 'team-default', storageKey: (r) => 'team/' + r.id };
     export const second = { name: 'team.second', description: 'two', policy: { concurrency: 2, retry: { maximumAttempts: 2 } } };
     export const both = [{ name: 'team:a' }, { name: 'team-b' }];
     export const alias = second;
     export const helper = () => 1;
     export const settings = { retries: 3 };
     export const names = ['a', 'b'];
     export const version = '1.0';`,
  );
  // A package whose exports have only the `import` condition: require.resolve could not find it.
  await file(
    'node_modules/@team/handlers/package.json',
    JSON.stringify({ name: '@team/handlers', type: 'module', exports: { '.': { import: './h.js' } } }),
  );
  await file('node_modules/@team/handlers/h.js', `export const h = { name: 'from-package' };`);
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('splitModuleList', () => {
  it('splits repeated flags and commas, trimming, dropping empty entries', () => {
    expect(splitModuleList(['./a.js, b', 'c,,', ' '])).toEqual(['./a.js', 'b', 'c']);
    expect(loadConfig({ FETCHBOX_HANDLERS: ' ./a.js ,@team/handlers' }).handlerModules).toEqual(['./a.js', '@team/handlers']);
    expect(loadConfig({}).handlerModules).toEqual([]);
  });
});

describe('loadHandlerModules', () => {
  it("registers a module's default export, named exports and arrays beside the built-in handlers, each object once", async () => {
    const { registry, modules } = await loadHandlerModules(['./team.mjs'], dir);
    // (Node lists a module's exports sorted; vitest's transformed modules in source order.)
    expect(registry.names().sort()).toEqual(['default', 'link-expander', 'team-b', 'team-default', 'team.second', 'team:a']);
    expect(modules).toEqual([{ module: './team.mjs', url: pathToFileURL(path.join(dir, 'team.mjs')).href, handlers: expect.any(Array) }]);
    expect(modules[0]!.handlers.sort()).toEqual(['team-b', 'team-default', 'team.second', 'team:a']);
    expect(registry.get('team-default').storageKey!({ id: 'x', url: 'http://a/x' }, {} as never)).toBe('team/x');
    expect(registry.get('team.second')).toMatchObject({ description: 'two', policy: { concurrency: 2, retry: { maximumAttempts: 2 } } });
  });

  it('takes absolute paths, file: URLs and package names resolved from the working directory (import condition)', async () => {
    const abs = await loadHandlerModules([path.join(dir, 'team.mjs')], '/');
    expect(abs.registry.has('team-default')).toBe(true);
    const url = await loadHandlerModules([pathToFileURL(path.join(dir, 'team.mjs')).href], '/');
    expect(url.registry.has('team-default')).toBe(true);
    const pkg = await loadHandlerModules(['@team/handlers'], dir);
    expect(pkg.modules[0]).toMatchObject({ module: '@team/handlers', handlers: ['from-package'] });
    expect(pkg.modules[0]!.url).toBe(pathToFileURL(path.join(dir, 'node_modules/@team/handlers/h.js')).href);
  });

  it('loads a module named twice once', async () => {
    const { modules } = await loadHandlerModules(['./team.mjs', path.join(dir, 'team.mjs')], dir);
    expect(modules).toHaveLength(1);
  });

  it('names the module that is missing, as a path and as a package (with a hint when a file of that name exists)', async () => {
    const missing = await moduleError(loadHandlerModules(['./nope.js'], dir));
    expect(missing.module).toBe('./nope.js');
    expect(missing.message).toBe(`handler module "./nope.js": no such file: ${path.join(dir, 'nope.js')}`);
    const pkg = await moduleError(loadHandlerModules(['no-such-handlers-package'], dir));
    expect(pkg.message).toMatch(/^handler module "no-such-handlers-package": cannot find it as a package from .*no-such-handlers-package/);
    const bare = await moduleError(loadHandlerModules(['team.mjs'], dir));
    expect(bare.message).toContain('a file team.mjs exists there: write ./team.mjs to load it as a path');
  });

  it('names a module that throws while loading, whatever it throws', async () => {
    await file('throws.mjs', `throw new Error('no secret configured');`);
    await file('throws-value.mjs', `throw { toString() { throw new Error('hostile'); } };`);
    await file('syntax.mjs', `export const = ;`);
    await file('imports-missing.mjs', `import 'not-installed-anywhere'; export default { name: 'x' };`);
    expect((await moduleError(loadHandlerModules(['./throws.mjs'], dir))).message).toMatch(
      /^handler module "\.\/throws\.mjs": failed to load file:.*throws\.mjs: Error: no secret configured$/,
    );
    expect((await moduleError(loadHandlerModules(['./throws-value.mjs'], dir))).message).toMatch(/failed to load .*\[object Object\]$/);
    // SyntaxError under Node; vitest's transform reports it as a parse failure.
    expect((await moduleError(loadHandlerModules(['./syntax.mjs'], dir))).message).toMatch(
      /^handler module "\.\/syntax\.mjs": failed to load file:.*syntax\.mjs: \w+Error: /,
    );
    expect((await moduleError(loadHandlerModules(['./imports-missing.mjs'], dir))).message).toContain('not-installed-anywhere');
  });

  it('refuses a module that exports no handler, listing what it exports', async () => {
    await file('empty.mjs', `export const helper = () => 1; export const config = { retries: 3 };`);
    const err = await moduleError(loadHandlerModules(['./empty.mjs'], dir));
    expect(err.message).toMatch(/^handler module "\.\/empty\.mjs": exports no handler .*; its exports: (config, helper|helper, config)$/);
  });

  it('refuses a name taken by a built-in handler or by another module, naming both', async () => {
    await file('clash-builtin.mjs', `export default { name: 'link-expander' };`);
    await file('other.mjs', `export const again = { name: 'team-b' };`);
    await file('twice.mjs', `export const a = { name: 'same' }; export const b = { name: 'same' };`);
    expect((await moduleError(loadHandlerModules(['./clash-builtin.mjs'], dir))).message).toBe(
      'handler module "./clash-builtin.mjs": handler name "link-expander" is taken by a built-in handler',
    );
    expect((await moduleError(loadHandlerModules(['./team.mjs', './other.mjs'], dir))).message).toBe(
      'handler module "./other.mjs": handler name "team-b" is taken by handler module "./team.mjs"',
    );
    expect((await moduleError(loadHandlerModules(['./twice.mjs'], dir))).message).toBe(
      'handler module "./twice.mjs": handler name "same" is taken by another of its exports',
    );
  });
});

describe('handlersOfModule: what a module exports is checked', () => {
  const bad = (namespace: Record<string, unknown>) => {
    try {
      handlersOfModule('m', namespace);
    } catch (err) {
      expect(err).toBeInstanceOf(HandlerModuleError);
      return (err as Error).message;
    }
    throw new Error('accepted');
  };

  it('refuses names that are not handler names', () => {
    expect(bad({ default: { name: 'has space' } })).toBe(
      'handler module "m": default export: name "has space" is not a handler name (1-128 characters of A-Z a-z 0-9 . _ : -)',
    );
    expect(bad({ h: { name: '' } })).toMatch(/export h: name "" is not a handler name/);
    expect(bad({ h: { name: 'x'.repeat(129) } })).toMatch(/is not a handler name/);
    expect(bad({ h: { name: '../../etc' } })).toMatch(/is not a handler name/);
    expect(bad({ h: { name: 'é' } })).toMatch(/is not a handler name/);
    expect(bad({ h: { name: 42 } })).toBe('handler module "m": export h: its name must be a string, not number');
    expect(bad({ h: { name: null } })).toBe('handler module "m": export h: its name must be a string, not null');
    // A long hostile name is quoted cut short, not whole.
    expect(bad({ h: { name: ' '.repeat(100_000) } }).length).toBeLessThan(500);
  });

  it('refuses hooks that are not functions, a bad description and a bad policy', () => {
    expect(bad({ h: { name: 'a', expand: 'yes' } })).toBe('handler module "m": export h: expand must be a function, not string');
    expect(bad({ h: { name: 'a', objectOptions: null } })).toBe('handler module "m": export h: objectOptions must be a function, not null');
    expect(bad({ h: { name: 'a', description: 7 } })).toBe('handler module "m": export h: description must be a string, not number');
    expect(bad({ h: { name: 'a', policy: { concurrency: 0 } } })).toMatch(
      /^handler module "m": export h: invalid policy: policy\.concurrency: /,
    );
    expect(bad({ h: { name: 'a', policy: { concurency: 4 } } })).toMatch(/invalid policy: policy: Unrecognized key/);
    // No coercion: what the handler wrote is what its jobs would get.
    expect(bad({ h: { name: 'a', policy: { retry: { maximumAttempts: '3' } } } })).toMatch(
      /invalid policy: policy\.retry\.maximumAttempts/,
    );
    expect(bad({ h: { name: 'a', policy: 'fast' } })).toMatch(/invalid policy/);
    expect(bad({ h: { name: 'a', policy: { proxyTiers: [() => 1] } } })).toMatch(/policy must be plain data/);
  });

  it('refuses arrays with something else among handlers, and more than the cap', () => {
    expect(bad({ list: [{ name: 'a' }, 'b'] })).toBe('handler module "m": export list[1] is not a handler (an object with a name)');
    const many = Array.from({ length: MAX_HANDLERS_PER_MODULE + 1 }, (_, i) => ({ name: `h${i}` }));
    expect(bad({ list: many })).toBe(`handler module "m": export list has more than ${MAX_HANDLERS_PER_MODULE} entries`);
  });

  it('turns getters and Proxy traps that throw into an error naming the export', () => {
    const getter = {
      get name(): string {
        throw new Error('boom');
      },
    };
    expect(bad({ g: getter })).toBe('handler module "m": export g: reading it threw (Error: boom)');
    const trap = new Proxy(
      {},
      {
        has() {
          throw new Error('trap');
        },
      },
    );
    expect(bad({ p: trap })).toBe('handler module "m": export p: reading it threw (Error: trap)');
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    expect(bad({ r: proxy })).toMatch(/^handler module "m": export r: reading it threw \(TypeError: /);
    const namespace = {};
    Object.defineProperty(namespace, 'x', {
      enumerable: true,
      get() {
        throw new Error('tdz');
      },
    });
    expect(bad(namespace)).toBe('handler module "m": export x: reading it threw (Error: tdz)');
  });

  it('registers a copy: hooks keep their this, later changes to the export do not reach jobs', () => {
    class Team {
      readonly name = 'team';
      readonly policy = { concurrency: 3 };
      prefix = 'p';
      storageKey(resource: { id: string }) {
        return `${this.prefix}/${resource.id}`;
      }
    }
    const original = new Team();
    const [copy] = handlersOfModule('m', { default: original });
    expect(copy!.storageKey!({ id: 'a', url: 'http://x/' }, {} as never)).toBe('p/a');
    (original.policy as { concurrency: number }).concurrency = 1_000_000;
    (original as { storageKey: unknown }).storageKey = 'not a function';
    expect(copy!.policy).toEqual({ concurrency: 3 });
    expect(copy!.storageKey!({ id: 'a', url: 'http://x/' }, {} as never)).toBe('p/a');
  });

  it('checkHandler keeps only what a handler is', () => {
    const handler = checkHandler('m', 'h', { name: 'a', extra: 'ignored', headers: () => ({}) });
    expect(Object.keys(handler).sort()).toEqual(['headers', 'name']);
  });
});

describe('startWorker', () => {
  it('checks the handlers it is given before it connects to anything', async () => {
    const config = loadConfig({ TEMPORAL_ADDRESS: '127.0.0.1:1' });
    expect((await moduleError(startWorker({ handlers: [{ name: 'default' }], config }))).message).toBe(
      'handler module "startWorker": handler name "default" is taken by a built-in handler',
    );
    expect((await moduleError(startWorker({ handlers: [null as never], config }))).message).toBe(
      'handler module "startWorker": handlers[0] is not a handler (an object with a name)',
    );
    expect((await moduleError(startWorker({ handlers: [{ name: 'a b' }], config }))).message).toMatch(
      /handlers\[0\]: name "a b" is not a handler name/,
    );
  });
});
