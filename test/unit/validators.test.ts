import { describe, expect, it } from 'vitest';
import { conditionalHeaderIn, isConditionalRequestHeader } from '../../src/fetch/header-rules.js';
import {
  MAX_ETAG_CHARS,
  VALIDATOR_METADATA,
  cleanEtag,
  cleanLastModified,
  conditionalFor,
  requestDigest,
  servesRequest,
  validatorMetadata,
  withoutValidatorMetadata,
} from '../../src/fetch/validators.js';

const sha = 'a'.repeat(64);

describe('validators from an untrusted origin', () => {
  it('keeps well-formed ETags and refuses the rest', () => {
    expect(cleanEtag('"abc"')).toBe('"abc"');
    expect(cleanEtag('W/"abc"')).toBe('W/"abc"');
    expect(cleanEtag('""')).toBe('""');
    for (const bad of [
      'abc',
      '"a"b"',
      '"a\r\nx: 1"',
      '"a\tb"',
      '"caf\u00e9"',
      '"a\u0000"',
      `"${'x'.repeat(MAX_ETAG_CHARS)}"`,
      'w/"a"',
      undefined,
    ]) {
      expect(cleanEtag(bad), JSON.stringify(bad)).toBeUndefined();
    }
  });

  it('keeps Last-Modified as an IMF-fixdate, refuses what is not a date', () => {
    expect(cleanLastModified('Wed, 21 Oct 2015 07:28:00 GMT')).toBe('Wed, 21 Oct 2015 07:28:00 GMT');
    expect(cleanLastModified('Wednesday, 21-Oct-15 07:28:00 GMT')).toBe('Wed, 21 Oct 2015 07:28:00 GMT');
    for (const bad of ['1445412480', 'yesterday', 'Wed, 21 Oct 2015 07:28:00 GMT\r\nx: 1', 'x'.repeat(100), undefined]) {
      expect(cleanLastModified(bad), JSON.stringify(bad)).toBeUndefined();
    }
  });

  it('records the issuing URL only when a redirect led elsewhere, and nothing when it is too long', () => {
    const v = { etag: '"e"' };
    expect(validatorMetadata(v, 'http://a/x', 'http://a/x')).toEqual({ [VALIDATOR_METADATA.etag]: '"e"' });
    expect(validatorMetadata(v, 'http://a/x', 'http://b/y')).toEqual({
      [VALIDATOR_METADATA.etag]: '"e"',
      [VALIDATOR_METADATA.url]: 'http://b/y',
    });
    expect(validatorMetadata(v, 'http://a/x', `http://b/${'y'.repeat(2000)}`)).toEqual({});
    expect(validatorMetadata({}, 'http://a/x', 'http://a/x')).toEqual({});
  });

  it("adds nothing when the object's other metadata leaves no room within S3's 2 KB", () => {
    const v = { etag: `"${'e'.repeat(200)}"`, lastModified: 'Wed, 21 Oct 2015 07:28:00 GMT' };
    expect(validatorMetadata(v, 'http://a/x', 'http://a/x', { 'source-url': `http://a/${'x'.repeat(1000)}` })).not.toEqual({});
    expect(validatorMetadata(v, 'http://a/x', 'http://a/x', { 'source-url': `http://a/${'x'.repeat(1700)}` })).toEqual({});
    expect(validatorMetadata(v, 'http://a/x', `http://b/${'y'.repeat(900)}`, { 'source-url': `http://a/${'x'.repeat(800)}` })).toEqual({});
  });

  it('a handler cannot plant validators', () => {
    expect(withoutValidatorMetadata({ 'Origin-ETag': '"x"', 'validator-url': 'http://evil/', keep: '1' })).toEqual({ keep: '1' });
  });

  it('a handler cannot plant a request digest either', () => {
    expect(withoutValidatorMetadata({ 'Request-Digest': 'f'.repeat(64), keep: '1' })).toEqual({ keep: '1' });
  });

  it('sees a task that is conditional or partial by itself, in any case, and names the header', () => {
    expect(conditionalHeaderIn({ 'If-None-Match': '"x"' })).toBe('If-None-Match');
    expect(conditionalHeaderIn({ accept: 'a', RANGE: 'bytes=0-' })).toBe('RANGE');
    for (const name of ['If-Range', 'if-match', 'If-Modified-Since', 'IF-UNMODIFIED-SINCE'])
      expect(isConditionalRequestHeader(name)).toBe(true);
    expect(conditionalHeaderIn({ accept: '*/*' })).toBeUndefined();
    expect(conditionalHeaderIn(undefined)).toBeUndefined();
  });
});

describe('requestDigest', () => {
  it('ignores name case and order, and tells values and names apart', () => {
    const d = requestDigest({ Accept: 'a', 'X-K': 'v' });
    expect(d).toMatch(/^[0-9a-f]{64}$/);
    expect(requestDigest({ 'x-k': 'v', accept: 'a' })).toBe(d);
    expect(requestDigest({ Accept: 'a', 'X-K': 'w' })).not.toBe(d);
    expect(requestDigest({ Accept: 'a' })).not.toBe(d);
    expect(requestDigest(undefined)).toBe(requestDigest({}));
    // No separator games: a name/value split elsewhere is another digest.
    expect(requestDigest({ ab: 'c' })).not.toBe(requestDigest({ a: 'bc' }));
  });
});

describe('conditionalFor', () => {
  const digest = requestDigest({});
  const meta = {
    'source-url': 'http://a/x',
    sha256: sha,
    [VALIDATOR_METADATA.requestDigest]: digest,
    [VALIDATOR_METADATA.etag]: '"e"',
    [VALIDATOR_METADATA.lastModified]: 'Wed, 21 Oct 2015 07:28:00 GMT',
  };

  it('asks with both validators, only the URL that issued them', () => {
    expect(conditionalFor(meta, 'http://a/x', digest)).toEqual({
      url: 'http://a/x',
      headers: { 'if-none-match': '"e"', 'if-modified-since': 'Wed, 21 Oct 2015 07:28:00 GMT' },
    });
    expect(conditionalFor({ ...meta, [VALIDATOR_METADATA.url]: 'http://b/y' }, 'http://a/x', digest)?.url).toBe('http://b/y');
  });

  it('never lends another URL its validators, and needs a verified object', () => {
    expect(conditionalFor(meta, 'http://a/other', digest)).toBeUndefined();
    const { sha256: _, ...unverified } = meta;
    expect(conditionalFor(unverified, 'http://a/x', digest)).toBeUndefined();
    expect(
      conditionalFor({ 'source-url': 'http://a/x', sha256: sha, [VALIDATOR_METADATA.requestDigest]: digest }, 'http://a/x', digest),
    ).toBeUndefined();
  });

  it('serves only a request with the same headers; an object without a request digest serves none', () => {
    const other = requestDigest({ Range: 'bytes=0-9' });
    expect(conditionalFor(meta, 'http://a/x', other)).toBeUndefined();
    expect(servesRequest(meta, 'http://a/x', other)).toBe(false);
    const { [VALIDATOR_METADATA.requestDigest]: _, ...legacy } = meta;
    expect(conditionalFor(legacy, 'http://a/x', digest)).toBeUndefined();
    expect(servesRequest(legacy, 'http://a/x', digest)).toBe(false);
    expect(servesRequest(meta, 'http://a/x', digest)).toBe(true);
  });

  it('cleans stored values again: edited metadata never reaches a header', () => {
    const edited = { ...meta, [VALIDATOR_METADATA.etag]: '"e"\r\nx-evil: 1', [VALIDATOR_METADATA.lastModified]: 'soon' };
    expect(conditionalFor(edited, 'http://a/x', digest)).toBeUndefined();
  });
});
