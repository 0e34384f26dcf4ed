/**
 * The metadata the client sends with each call: the lock identifier where the server's lock protects
 * the call, and caller-given values, each only to the calls its feature says it affects.
 */
import * as grpc from '@grpc/grpc-js';
import type { FeatureHandle } from './client-types.ts';
import type { HeldLock } from './core/client-lock.ts';
import { fqi, metadataHeader, sameFqi, type Metadata } from './feature.ts';
import type { SilaValue } from './values.ts';

/** Calls wait for the channel to (re)connect instead of failing at once; nothing is sent before, so nothing runs twice. grpc-js copies it per call. */
export const WAIT_FOR_READY = new grpc.Metadata();
WAIT_FOR_READY.setOptions({ waitForReady: true });

export class ClientMetadata {
  private held: HeldLock | undefined;
  private lockMetadata = WAIT_FOR_READY;
  /** Per fully qualified metadata identifier (lower case): the calls it affects, as the server says. */
  private readonly affected = new Map<string, Promise<string[]>>();

  constructor(
    private readonly handles: () => readonly FeatureHandle[],
    private readonly affectedCalls: (feature: string, metadata: string) => Promise<string[]>,
  ) {}

  get lock(): HeldLock | undefined {
    return this.held;
  }

  /** From now on, the calls the lock protects carry its identifier. */
  useLock(lock: HeldLock, lockFeature: FeatureHandle): void {
    const item = lockFeature.feature.metadata.find((m) => m.identifier === 'LockIdentifier')!;
    const metadata = WAIT_FOR_READY.clone();
    metadata.set(metadataHeader(lockFeature.feature, item.identifier), encodeValue(lockFeature, item, lock.lockId));
    this.held = lock;
    this.lockMetadata = metadata;
  }

  lockEnded(lock: HeldLock): void {
    if (this.held !== lock) return;
    this.held = undefined;
    this.lockMetadata = WAIT_FOR_READY;
  }

  /** Whether a call went out with the lock identifier. */
  carriesLock(metadata: grpc.Metadata): boolean {
    return metadata !== WAIT_FOR_READY && metadata === this.lockMetadata;
  }

  /** The metadata of a call without caller-given values (asked on every call, so it allocates nothing). */
  base(handle: FeatureHandle | undefined, rpcName: string): grpc.Metadata {
    const lock = this.held;
    if (!lock || !handle) return WAIT_FOR_READY;
    const member = handle.members.get(rpcName);
    if (!member || !lock.covers(handle.feature, member)) return WAIT_FOR_READY;
    lock.used();
    return this.lockMetadata;
  }

  /** With caller-given values: each goes only to the calls its feature says it affects. */
  async with(handle: FeatureHandle | undefined, rpcName: string, values: Record<string, SilaValue> | undefined): Promise<grpc.Metadata> {
    const base = this.base(handle, rpcName);
    const member = handle?.members.get(rpcName);
    if (!values || !handle || !member) return base;
    const metadata = base.clone();
    for (const [reference, value] of Object.entries(values)) {
      const { owner, item } = this.find(reference);
      if (await this.affects(owner, item, handle, member)) metadata.set(metadataHeader(owner.feature, item.identifier), encodeValue(owner, item, value));
    }
    return metadata;
  }

  /** Metadata with the given values, whatever the calls they affect (for tests of servers). */
  all(values: Record<string, SilaValue>): grpc.Metadata {
    const metadata = WAIT_FOR_READY.clone();
    for (const [reference, value] of Object.entries(values)) {
      const { owner, item } = this.find(reference);
      metadata.set(metadataHeader(owner.feature, item.identifier), encodeValue(owner, item, value));
    }
    return metadata;
  }

  private async affects(owner: FeatureHandle, item: Metadata, target: FeatureHandle, member: string): Promise<boolean> {
    const id = fqi.metadata(owner.feature, item.identifier).toLowerCase();
    let affected = this.affected.get(id);
    if (!affected) {
      // A server that cannot say which calls it affects gets the metadata on every call.
      affected = this.affectedCalls(owner.proto.fqi, item.identifier).catch(() => ['*']);
      this.affected.set(id, affected);
    }
    const calls = await affected;
    return calls.includes('*') || calls.some((c) => sameFqi(c, target.proto.fqi) || sameFqi(c, member));
  }

  private find(reference: string): { owner: FeatureHandle; item: Metadata } {
    const found = this.handles().flatMap((owner) =>
      owner.feature.metadata.filter((m) => m.identifier === reference || sameFqi(fqi.metadata(owner.feature, m.identifier), reference)).map((item) => ({ owner, item })),
    );
    if (found.length !== 1) throw new Error(found.length ? `metadata '${reference}' is ambiguous; use its fully qualified identifier` : `the server defines no metadata '${reference}'`);
    return found[0]!;
  }
}

function encodeValue(owner: FeatureHandle, item: Metadata, value: SilaValue): Buffer {
  return Buffer.from(owner.proto.type(`Metadata_${item.identifier}`).encode({ [item.identifier]: owner.codec.encode(item.dataType, value, item.identifier) }).finish());
}
