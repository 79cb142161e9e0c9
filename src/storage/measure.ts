import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { BodyRejectedError, BodyRejection } from './errors.js';

/**
 * A pass-through that counts bytes and hashes them with sha256 while they stream, and fails the
 * stream (so the driver aborts) when the body outgrows `maxBytes` or ends short of `expectedBytes`.
 * Every driver pipes bodies through one of these, so size and digest checks live in one place.
 */
export class MeasuringStream extends Transform {
  bytes = 0;
  private readonly hash: Hash;
  private digest: string | undefined;

  constructor(
    private readonly key: string,
    private readonly limits: {
      expectedBytes?: number | undefined;
      maxBytes?: number | undefined;
      onProgress?: ((bytes: number) => void) | undefined;
      /** A resumed body: the bytes already stored before this stream, and their running hash. */
      resumeFrom?: { bytes: number; hash: Hash } | undefined;
    },
  ) {
    super();
    this.bytes = limits.resumeFrom?.bytes ?? 0;
    this.hash = limits.resumeFrom?.hash ?? createHash('sha256');
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    const { maxBytes, expectedBytes } = this.limits;
    if (maxBytes !== undefined && this.bytes > maxBytes) {
      done(new BodyRejectedError(BodyRejection.tooLarge, this.key, this.bytes, maxBytes));
      return;
    }
    if (expectedBytes !== undefined && this.bytes > expectedBytes) {
      done(new BodyRejectedError(BodyRejection.truncated, this.key, this.bytes, expectedBytes));
      return;
    }
    this.hash.update(chunk);
    this.limits.onProgress?.(this.bytes);
    done(null, chunk);
  }

  override _flush(done: TransformCallback): void {
    const { expectedBytes } = this.limits;
    if (expectedBytes !== undefined && this.bytes !== expectedBytes) {
      done(new BodyRejectedError(BodyRejection.truncated, this.key, this.bytes, expectedBytes));
      return;
    }
    done();
  }

  /** The hex sha256 of everything that passed; valid once the stream has ended. */
  sha256(): string {
    this.digest ??= this.hash.digest('hex');
    return this.digest;
  }
}
