/**
 * Media bytes on local disk under media_store_path, named by their SHA-256 (identical uploads are
 * stored once). A write goes to a temporary file while it is hashed and counted, then is renamed
 * into place; a write that fails or is cut off removes its temporary file, so no half-written file
 * is ever visible under its hash.
 */
import { createReadStream, createWriteStream, type ReadStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
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
const STALE_TEMP_MS = 60 * 60 * 1000;

export class ContentStore {
  private readonly tmpDir: string;
  private readonly contentDir: string;

  constructor(readonly root: string) {
    this.tmpDir = join(root, 'tmp');
    this.contentDir = join(root, 'content');
  }

  /**
   * Creates the folders and removes temporary files a crashed process left behind. Several
   * processes may share the store, so only files untouched for an hour go: an upload in progress
   * writes to its file all the time.
   */
  async init(now = Date.now()): Promise<void> {
    await mkdir(this.contentDir, { recursive: true });
    await mkdir(this.tmpDir, { recursive: true });
    for (const name of await readdir(this.tmpDir)) {
      const path = join(this.tmpDir, name);
      const info = await stat(path).catch(() => undefined);
      if (info && now - info.mtimeMs > STALE_TEMP_MS) await rm(path, { force: true });
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
    // Created before a byte arrives, so the cleanup below always finds it.
    const handle = await open(temp, 'wx', 0o640);
    const counter = new HashingCounter(limit);
    // The source is piped, not handed to pipeline(): pipeline would destroy it on a size-limit
    // error, and destroying an HTTP request kills the socket the 413 answer must go out on.
    const onError = (err: Error) => counter.destroy(err);
    const onClose = () => {
      if (!source.readableEnded) counter.destroy(new Error('the upload was cut off'));
    };
    source.once('error', onError);
    source.once('close', onClose);
    source.pipe(counter);
    try {
      await pipeline(counter, createWriteStream(temp, { fd: handle }));
      const sha256 = counter.hash.digest('hex');
      await this.moveIntoPlace(temp, sha256);
      return { sha256, length: counter.length };
    } catch (err) {
      source.unpipe(counter);
      await handle.close().catch(() => undefined);
      await unlink(temp).catch(() => undefined);
      throw err;
    } finally {
      source.off('error', onError);
      source.off('close', onClose);
      // A request cut off after we stopped reading must not become an unhandled 'error'.
      if (!source.readableEnded) source.on('error', () => undefined);
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
    // Large reads: fewer, bigger chunks make a faster download for little memory per request.
    return createReadStream(this.pathOf(sha256), { highWaterMark: 512 * 1024, ...(range ? { start: range.start, end: range.end } : {}) });
  }
}
