import { describe, expect, it } from 'vitest';
import { MAX_SINGLE_COPY_BYTES, copyInPlace } from '../../src/storage/s3-copy.js';

/** An S3 client stand-in that records each command's name and input. */
function recordingClient(failOn?: string) {
  const sent: { name: string; input: Record<string, any> }[] = [];
  const client = {
    send: async (command: { constructor: { name: string }; input: Record<string, any> }) => {
      const name = command.constructor.name.replace(/Command$/, '');
      sent.push({ name, input: command.input });
      if (name === failOn) throw new Error(`${name} failed`);
      if (name === 'CreateMultipartUpload') return { UploadId: 'up-1' };
      if (name === 'UploadPartCopy') return { CopyPartResult: { ETag: `"e${command.input.PartNumber}"` } };
      return {};
    },
  };
  return { client: client as never, sent };
}

const copy = {
  Bucket: 'b',
  Key: 'p/a b.bin',
  ContentType: 'image/jpeg',
  Metadata: { sha256: 'abc', 'source-url': 'http://x' },
  ETag: '"hashed-1"',
};

describe('in-place metadata copy after a multipart upload', () => {
  it('uses one CopyObject up to 5 GiB', async () => {
    const { client, sent } = recordingClient();
    await expect(copyInPlace(client, { ...copy, bytes: MAX_SINGLE_COPY_BYTES })).resolves.toBe('single');
    expect(sent.map((s) => s.name)).toEqual(['CopyObject']);
    expect(sent[0]!.input).toMatchObject({
      CopySource: 'b/p/a%20b.bin',
      CopySourceIfMatch: '"hashed-1"',
      MetadataDirective: 'REPLACE',
      Metadata: copy.Metadata,
    });
  });

  it('copies an object over 5 GiB part by part, never with CopyObject', async () => {
    const { client, sent } = recordingClient();
    const bytes = MAX_SINGLE_COPY_BYTES + 1;
    await expect(copyInPlace(client, { ...copy, bytes })).resolves.toBe('multipart');
    const names = sent.map((s) => s.name);
    expect(names).not.toContain('CopyObject');
    expect(names[0]).toBe('CreateMultipartUpload');
    expect(sent[0]!.input).toMatchObject({ ContentType: 'image/jpeg', Metadata: copy.Metadata });
    const parts = sent.filter((s) => s.name === 'UploadPartCopy');
    expect(parts).toHaveLength(11); // ten 512 MiB parts and a 1-byte one
    expect(parts.every((p) => p.input.CopySourceIfMatch === '"hashed-1"')).toBe(true);
    expect(parts[0]!.input.CopySourceRange).toBe('bytes=0-536870911');
    expect(parts.at(-1)!.input.CopySourceRange).toBe(`bytes=${bytes - 1}-${bytes - 1}`);
    expect(names.at(-1)).toBe('CompleteMultipartUpload');
    expect(sent.at(-1)!.input.MultipartUpload.Parts.map((p: { PartNumber: number }) => p.PartNumber)).toEqual(
      Array.from({ length: 11 }, (_, i) => i + 1),
    );
  });

  it('honours injected limits and aborts the upload when a part fails', async () => {
    const { client, sent } = recordingClient('UploadPartCopy');
    await expect(copyInPlace(client, { ...copy, bytes: 100 }, { maxSingleCopyBytes: 10, partBytes: 40 })).rejects.toThrow(
      'UploadPartCopy failed',
    );
    expect(sent.map((s) => s.name)).toEqual(['CreateMultipartUpload', 'UploadPartCopy', 'AbortMultipartUpload']);
    expect(sent.at(-1)!.input).toMatchObject({ UploadId: 'up-1', Key: copy.Key });
  });
});
