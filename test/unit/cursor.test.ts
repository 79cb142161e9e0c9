import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { CursorListing, CursorSigner } from '../../src/api/cursor.js';

const Position = z.strictObject({ page: z.number().int() });

describe('the one cursor format', () => {
  const signer = CursorSigner.random();

  it('opens what it sealed, for the same listing and binding', () => {
    const cursor = signer.seal(CursorListing.resources, 'j1', { page: 4 });
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(signer.open(CursorListing.resources, 'j1', cursor, Position)).toEqual({ page: 4 });
  });

  it("refuses another listing's cursor, even with the same binding and position shape", () => {
    const cursor = signer.seal(CursorListing.jobs, 'j1', { page: 4 });
    expect(() => signer.open(CursorListing.resources, 'j1', cursor, Position)).toThrow(/not a cursor returned by this API/);
  });

  it('refuses a cursor of other filters or another job, saying so, as a 400 naming the cursor', () => {
    const cursor = signer.seal(CursorListing.resources, 'j1', { page: 4 });
    expect(() => signer.open(CursorListing.resources, 'j2', cursor, Position)).toThrow(
      expect.objectContaining({
        status: 400,
        code: 'invalid_request',
        message: expect.stringMatching(/other filters/),
        details: [{ path: 'cursor', message: expect.any(String) }],
      }),
    );
  });

  it('refuses a position its listing does not accept, and cursors of another key or format version', () => {
    const wrongShape = signer.seal(CursorListing.resources, 'j1', { page: 'x' });
    expect(() => signer.open(CursorListing.resources, 'j1', wrongShape, Position)).toThrow(/not a cursor/);
    const otherKey = CursorSigner.random().seal(CursorListing.resources, 'j1', { page: 4 });
    expect(() => signer.open(CursorListing.resources, 'j1', otherKey, Position)).toThrow(/not a cursor/);
    // The body of a real cursor, re-sealed by hand with another version, still fails its MAC.
    const body = JSON.parse(Buffer.from(otherKey.slice(0, -43), 'base64url').toString()) as Record<string, unknown>;
    const v1 = Buffer.from(JSON.stringify({ ...body, v: 1 })).toString('base64url') + otherKey.slice(-43);
    expect(() => signer.open(CursorListing.resources, 'j1', v1, Position)).toThrow(/not a cursor/);
  });

  it('keeps cursors across processes that share a secret, and only those', () => {
    const cursor = CursorSigner.fromSecret('s'.repeat(32)).seal(CursorListing.failures, [], { page: 1 });
    expect(CursorSigner.fromSecret('s'.repeat(32)).open(CursorListing.failures, [], cursor, Position)).toEqual({ page: 1 });
    expect(() => CursorSigner.fromSecret('t'.repeat(32)).open(CursorListing.failures, [], cursor, Position)).toThrow(/not a cursor/);
  });
});
