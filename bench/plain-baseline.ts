import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { Agent, request } from 'undici';

// The plain baseline: what the machine does with no FetchBox code at all. An undici GET whose
// body is hashed (sha256) while it streams into a file, or into S3 through lib-storage's Upload;
// `concurrency` lanes over the URLs. No fsync, no rename, no metadata: the physical limit a user
// compares an orchestrator with (issue 16's "raw loop").

/** Where the plain loop writes: a directory, or an S3 bucket and prefix. */
export type PlainTarget =
  | { kind: 'file'; dir: string }
  | {
      kind: 's3';
      bucket: string;
      prefix: string;
      endpoint: string;
      region: string;
      credentials: { accessKeyId: string; secretAccessKey: string };
    };

function hashing(hash: ReturnType<typeof createHash>): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      done(null, chunk);
    },
  });
}

/** GETs every URL and stores its body with its sha256 computed on the way, `concurrency` at a time. */
export async function plainLoop(urls: readonly string[], target: PlainTarget, concurrency: number): Promise<void> {
  const agent = new Agent({ connections: concurrency });
  const s3 =
    target.kind === 's3'
      ? new S3Client({
          region: target.region,
          endpoint: target.endpoint,
          forcePathStyle: true,
          credentials: target.credentials,
          requestChecksumCalculation: 'WHEN_REQUIRED',
          responseChecksumValidation: 'WHEN_REQUIRED',
        })
      : undefined;
  if (target.kind === 'file') await mkdir(target.dir, { recursive: true });
  let next = 0;
  const lane = async () => {
    while (next < urls.length) {
      const i = next++;
      const res = await request(urls[i]!, { dispatcher: agent });
      if (res.statusCode !== 200) throw new Error(`plain GET ${urls[i]} answered ${res.statusCode}`);
      const hash = createHash('sha256');
      if (target.kind === 'file') {
        await pipeline(res.body, hashing(hash), createWriteStream(path.join(target.dir, String(i))));
      } else {
        const body = res.body.pipe(hashing(hash));
        await new Upload({ client: s3!, params: { Bucket: target.bucket, Key: `${target.prefix}/${i}`, Body: body } }).done();
      }
      hash.digest('hex');
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, lane));
  } finally {
    await agent.close();
    s3?.destroy();
  }
}
