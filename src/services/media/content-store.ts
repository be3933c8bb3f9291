/**
 * Media bytes on local disk under media_store_path, named by their SHA-256 (identical uploads are
 * stored once). A write goes to a temporary file while it is hashed and counted, then is renamed
 * into place; a write that fails or is cut off removes its temporary file, so no half-written file
 * is ever visible under its hash.
 */
import { createReadStream, createWriteStream, type ReadStream } from 'node:fs';
import { mkdir, readdir, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export interface StoredFile {
  sha256: string;
  length: number;
}

/** Thrown (by the counting transform) when a stream goes over its byte limit. */
export class SizeLimitExceeded extends Error {
  constructor(readonly limit: number) {
    super(`more than ${limit} bytes`);
  }
}

/** Hashes and counts what passes through; fails once more than `limit` bytes have passed. */
class HashingCounter extends Transform {
  readonly hash = createHash('sha256');
  length = 0;

  constructor(private readonly limit: number) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.length += chunk.length;
    if (this.length > this.limit) {
      done(new SizeLimitExceeded(this.limit));
      return;
    }
    this.hash.update(chunk);
    done(null, chunk);
  }
}

const HASH_RE = /^[0-9a-f]{64}$/;

export class ContentStore {
  private readonly tmpDir: string;
  private readonly contentDir: string;

  constructor(readonly root: string) {
    this.tmpDir = join(root, 'tmp');
    this.contentDir = join(root, 'content');
  }

  /** Creates the folders and removes temporary files a crashed process left behind. */
  async init(): Promise<void> {
    await mkdir(this.contentDir, { recursive: true });
    await mkdir(this.tmpDir, { recursive: true });
    for (const name of await readdir(this.tmpDir)) {
      await rm(join(this.tmpDir, name), { force: true });
    }
  }

  /** content/ab/cd/abcd… — two levels of fan-out keep folders small. */
  pathOf(sha256: string): string {
    if (!HASH_RE.test(sha256)) throw new Error(`not a SHA-256: ${sha256}`);
    return join(this.contentDir, sha256.slice(0, 2), sha256.slice(2, 4), sha256);
  }

  private tempPath(): string {
    return join(this.tmpDir, `${Date.now()}-${randomBytes(8).toString('hex')}.part`);
  }

  /**
   * Streams `source` to disk (never holding it in memory). Rejects with SizeLimitExceeded past
   * `limit` bytes, or with the stream's error if it is cut off; either way nothing is left behind.
   */
  async write(source: Readable, limit = Number.MAX_SAFE_INTEGER): Promise<StoredFile> {
    const temp = this.tempPath();
    const counter = new HashingCounter(limit);
    try {
      await pipeline(source, counter, createWriteStream(temp, { flags: 'wx', mode: 0o640 }));
      const sha256 = counter.hash.digest('hex');
      await this.moveIntoPlace(temp, sha256);
      return { sha256, length: counter.length };
    } catch (err) {
      await unlink(temp).catch(() => undefined);
      throw err;
    }
  }

  /** Stores a small buffer (thumbnails) the same way. */
  async writeBuffer(data: Buffer): Promise<StoredFile> {
    const sha256 = createHash('sha256').update(data).digest('hex');
    const temp = this.tempPath();
    try {
      await writeFile(temp, data, { flag: 'wx', mode: 0o640 });
      await this.moveIntoPlace(temp, sha256);
    } catch (err) {
      await unlink(temp).catch(() => undefined);
      throw err;
    }
    return { sha256, length: data.length };
  }

  private async moveIntoPlace(temp: string, sha256: string): Promise<void> {
    const target = this.pathOf(sha256);
    await mkdir(join(this.contentDir, sha256.slice(0, 2), sha256.slice(2, 4)), { recursive: true });
    // Same name, same bytes: renaming over an existing copy is harmless and atomic.
    await rename(temp, target);
  }

  async exists(sha256: string): Promise<boolean> {
    try {
      await stat(this.pathOf(sha256));
      return true;
    } catch {
      return false;
    }
  }

  /** A stream of bytes [start, end] (inclusive, as HTTP ranges are) of a stored file. */
  read(sha256: string, range?: { start: number; end: number }): ReadStream {
    return createReadStream(this.pathOf(sha256), range ? { start: range.start, end: range.end } : {});
  }
}
