/**
 * The server's side of SiLA binary transfer: binaries clients upload for command parameters, and large
 * responses kept for clients to download, each under a binaryTransferUUID for a limited lifetime.
 */
import { randomUUID } from 'node:crypto';
import { BinaryTransferError } from './errors.ts';
import { MAX_INLINE_BINARY } from './codec.ts';
import type { Clock } from '../clock.ts';

interface Upload {
  parameterIdentifier: string;
  size: number;
  chunks: (Buffer | undefined)[];
  received: number;
  expiresAt: number;
}

interface Download {
  bytes: Uint8Array;
  expiresAt: number;
}

export class BinaryStore {
  private readonly uploads = new Map<string, Upload>();
  private readonly downloads = new Map<string, Download>();

  constructor(private readonly lifetimeSeconds: number, private readonly clock: Clock) {}

  private expiry(): number {
    return this.clock.now() + this.lifetimeSeconds * 1000;
  }

  private purge(): void {
    const now = this.clock.now();
    for (const [id, u] of this.uploads) if (u.expiresAt < now) this.uploads.delete(id);
    for (const [id, d] of this.downloads) if (d.expiresAt < now) this.downloads.delete(id);
  }

  createUpload(parameterIdentifier: string, size: number, chunkCount: number): { uuid: string; lifetimeSeconds: number } {
    this.purge();
    if (chunkCount < 1 || size > chunkCount * MAX_INLINE_BINARY) {
      throw new BinaryTransferError('BINARY_UPLOAD_FAILED', `${chunkCount} chunk(s) of at most 2 MiB cannot hold ${size} bytes`);
    }
    const uuid = randomUUID();
    this.uploads.set(uuid, { parameterIdentifier, size, chunks: new Array(chunkCount).fill(undefined), received: 0, expiresAt: this.expiry() });
    return { uuid, lifetimeSeconds: this.lifetimeSeconds };
  }

  addChunk(uuid: string, index: number, payload: Buffer): number {
    const upload = this.uploads.get(uuid);
    if (!upload) throw new BinaryTransferError('INVALID_BINARY_TRANSFER_UUID', `no upload with binary transfer UUID '${uuid}'`);
    if (index < 0 || index >= upload.chunks.length) throw new BinaryTransferError('BINARY_UPLOAD_FAILED', `chunk index ${index} is outside 0..${upload.chunks.length - 1}`);
    if (payload.length > MAX_INLINE_BINARY) throw new BinaryTransferError('BINARY_UPLOAD_FAILED', `chunk ${index} has ${payload.length} bytes; at most 2 MiB is allowed`);
    if (!upload.chunks[index]) upload.received++;
    upload.chunks[index] = payload;
    upload.expiresAt = this.expiry();
    return this.lifetimeSeconds;
  }

  /** The complete uploaded bytes for a parameter; refuses unknown, incomplete or mismatched uploads. */
  takeUpload(uuid: string, parameterIdentifier: string): Uint8Array {
    const upload = this.uploads.get(uuid);
    if (!upload) throw new Error(`no uploaded binary with UUID '${uuid}'`);
    if (upload.parameterIdentifier.toLowerCase() !== parameterIdentifier.toLowerCase()) throw new Error(`binary '${uuid}' was uploaded for ${upload.parameterIdentifier}`);
    if (upload.received < upload.chunks.length) throw new Error(`binary '${uuid}' is incomplete: ${upload.received} of ${upload.chunks.length} chunks received`);
    const bytes = Buffer.concat(upload.chunks as Buffer[]);
    if (bytes.length !== upload.size) throw new Error(`binary '${uuid}' has ${bytes.length} bytes; ${upload.size} were announced`);
    return bytes;
  }

  offerDownload(bytes: Uint8Array): string {
    this.purge();
    const uuid = randomUUID();
    this.downloads.set(uuid, { bytes, expiresAt: this.expiry() });
    return uuid;
  }

  downloadInfo(uuid: string): { size: number; lifetimeSeconds: number } {
    const download = this.getDownload(uuid);
    return { size: download.bytes.length, lifetimeSeconds: Math.max(0, (download.expiresAt - this.clock.now()) / 1000) };
  }

  chunk(uuid: string, offset: number, length: number): Uint8Array {
    const download = this.getDownload(uuid);
    if (length > MAX_INLINE_BINARY) throw new BinaryTransferError('BINARY_DOWNLOAD_FAILED', `chunks are at most 2 MiB; ${length} bytes requested`);
    if (offset < 0 || offset + length > download.bytes.length) throw new BinaryTransferError('BINARY_DOWNLOAD_FAILED', `bytes ${offset}..${offset + length} are outside the binary of ${download.bytes.length} bytes`);
    download.expiresAt = this.expiry();
    return download.bytes.subarray(offset, offset + length);
  }

  delete(uuid: string): void {
    if (!this.uploads.delete(uuid) && !this.downloads.delete(uuid)) {
      throw new BinaryTransferError('INVALID_BINARY_TRANSFER_UUID', `no binary with UUID '${uuid}'`);
    }
  }

  private getDownload(uuid: string): Download {
    const download = this.downloads.get(uuid);
    if (!download || download.expiresAt < this.clock.now()) throw new BinaryTransferError('INVALID_BINARY_TRANSFER_UUID', `no binary with UUID '${uuid}'`);
    return download;
  }
}
