/** The client's side of SiLA binary transfer: parameters over 2 MiB uploaded, responses over 2 MiB downloaded, in chunks. */
import * as grpc from '@grpc/grpc-js';
import type protobuf from 'protobufjs';
import { MAX_INLINE_BINARY } from './codec.ts';
import { BinaryTransferError, fromGrpcError } from './errors.ts';
import { methodDefinition } from './grpc-methods.ts';
import type { RpcDefinition } from './proto.ts';
import { binaryTransferRpc } from './server-binary.ts';
import { BinaryRef } from './values.ts';
import { wallNow } from '../clock.ts';

type Unary = (rpc: RpcDefinition, request: object) => Promise<any>;

export class BinaryTransferClient {
  private readonly rpcs = new Map<string, RpcDefinition>();

  constructor(
    private readonly grpcClient: grpc.Client,
    private readonly root: protobuf.Root,
    private readonly callTimeoutMs: number,
    /** A unary call whose SiLA errors are read as BinaryTransferErrors. */
    private readonly unary: Unary,
  ) {}

  private rpc(service: 'BinaryUpload' | 'BinaryDownload', name: string, request: string, response: string, streaming: boolean): RpcDefinition {
    const key = `${service}/${name}`;
    let rpc = this.rpcs.get(key);
    if (!rpc) this.rpcs.set(key, (rpc = binaryTransferRpc(this.root, service, name, request, response, streaming)));
    return rpc;
  }

  /** Uploads a large binary for a command parameter; returns the reference to send instead. */
  async upload(bytes: Uint8Array, parameterFqi: string): Promise<BinaryRef> {
    const chunkCount = Math.ceil(bytes.length / MAX_INLINE_BINARY);
    const created = await this.unary(this.rpc('BinaryUpload', 'CreateBinary', 'CreateBinaryRequest', 'CreateBinaryResponse', false), { binarySize: bytes.length, chunkCount, parameterIdentifier: parameterFqi });
    const uuid = created.binaryTransferUUID as string;
    const chunks = Array.from({ length: chunkCount }, (_, i) => ({ binaryTransferUUID: uuid, chunkIndex: i, payload: bytes.subarray(i * MAX_INLINE_BINARY, (i + 1) * MAX_INLINE_BINARY) }));
    await this.bidi(this.rpc('BinaryUpload', 'UploadChunk', 'UploadChunkRequest', 'UploadChunkResponse', true), chunks, 'BINARY_UPLOAD_FAILED');
    return new BinaryRef(uuid);
  }

  /** Downloads a binary the server offers by reference, then frees it on the server. */
  async download(uuid: string): Promise<Uint8Array> {
    const info = await this.unary(this.rpc('BinaryDownload', 'GetBinaryInfo', 'GetBinaryInfoRequest', 'GetBinaryInfoResponse', false), { binaryTransferUUID: uuid });
    const size = Number(info.binarySize);
    const requests = [];
    for (let offset = 0; offset < size; offset += MAX_INLINE_BINARY) requests.push({ binaryTransferUUID: uuid, offset, length: Math.min(MAX_INLINE_BINARY, size - offset) });
    const responses = await this.bidi(this.rpc('BinaryDownload', 'GetChunk', 'GetChunkRequest', 'GetChunkResponse', true), requests, 'BINARY_DOWNLOAD_FAILED');
    const bytes = Buffer.alloc(size);
    for (const r of responses) Buffer.from(r.payload).copy(bytes, Number(r.offset));
    await this.unary(this.rpc('BinaryDownload', 'DeleteBinary', 'DeleteBinaryRequest', 'DeleteBinaryResponse', false), { binaryTransferUUID: uuid }).catch(() => undefined);
    return bytes;
  }

  private bidi(rpc: RpcDefinition, requests: object[], failure: 'BINARY_UPLOAD_FAILED' | 'BINARY_DOWNLOAD_FAILED'): Promise<any[]> {
    const definition = methodDefinition(rpc);
    return new Promise((resolve, reject) => {
      const call = this.grpcClient.makeBidiStreamRequest(rpc.path, definition.requestSerialize, definition.responseDeserialize, new grpc.Metadata(), {
        deadline: wallNow() + this.callTimeoutMs * Math.max(1, requests.length),
      });
      const responses: any[] = [];
      call.on('data', (r) => {
        responses.push(r);
        if (responses.length === requests.length) call.end();
      });
      call.on('error', (error: grpc.ServiceError) => reject(fromGrpcError(error, error.code === grpc.status.ABORTED)));
      call.on('end', () => (responses.length === requests.length ? resolve(responses) : reject(new BinaryTransferError(failure, `the server answered ${responses.length} of ${requests.length} chunks`))));
      for (const request of requests) call.write(request);
    });
  }
}
