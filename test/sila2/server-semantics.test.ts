/**
 * What SiLA servers send and the client must honour: lifetime of execution, the calls metadata affects,
 * SiLA errors in the middle of a stream, and a server restarted with a certificate the client does not
 * trust. Over real gRPC on loopback with TLS.
 */
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { SilaClient, UntrustedCertificateError } from '../../drivers/sila2/client.ts';
import { CORE_FEATURES, coreFeatureFile } from '../../drivers/sila2/core/features.ts';
import { DefinedExecutionError, ExecutionExpiredError, FrameworkError, SilaConnectionError, UndefinedExecutionError, toGrpcStatus } from '../../drivers/sila2/errors.ts';
import { parseFeature, readFeatureFile } from '../../drivers/sila2/fdl.ts';
import { featureFqi, fqi } from '../../drivers/sila2/feature.ts';
import { methodDefinition } from '../../drivers/sila2/grpc-methods.ts';
import { deriveFeatureProto, frameworkRoot } from '../../drivers/sila2/proto.ts';
import { SilaServer } from '../../drivers/sila2/server.ts';
import { createSelfSignedCertificate } from '../../drivers/sila2/tls.ts';
import { startTestBench } from '../support/test-bench-server.ts';

const BENCH = 'dev.workcell/tests/TestBench/v1';
const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

async function bench(options: Parameters<typeof startTestBench>[0] = {}) {
  const started = await startTestBench(options);
  cleanup.push(() => started.server.stop(100));
  return started;
}

async function connect(port: number, ca: string | undefined, extra: Partial<Parameters<typeof SilaClient.connect>[0]> = {}) {
  const client = await SilaClient.connect({ host: '127.0.0.1', port, ca, ...extra });
  cleanup.push(() => client.close());
  return client;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('lifetime of execution', () => {
  it('is known to the client from the confirmation; a UUID used after it expired is named expired', async () => {
    const { server } = await bench({ executionLifetimeSeconds: 1 });
    const client = await connect(server.port, server.certificatePem);
    const before = Date.now();
    const execution = await client.start('TestBench', 'CountTo', { Target: 2, Interval: 0.05, FailAt: 0 });
    expect(execution.expiresAt!.getTime()).toBeGreaterThanOrEqual(before + 900);
    expect(execution.expiresAt!.getTime()).toBeLessThanOrEqual(Date.now() + 1100);
    expect(await execution.result()).toEqual({ Total: 3 });
    // finishing gives the result a whole lifetime again, which the final Info said
    expect(execution.expiresAt!.getTime()).toBeGreaterThan(Date.now() + 500);
    while (Date.now() <= execution.expiresAt!.getTime() + 50) await sleep(100);
    const expired = await execution.result().catch((e) => e);
    expect(expired).toBeInstanceOf(ExecutionExpiredError);
    expect(expired).toBeInstanceOf(FrameworkError);
    expect(expired.errorType).toBe('INVALID_COMMAND_EXECUTION_UUID');
    expect(expired.message).toMatch(new RegExp(`execution ${execution.uuid} of CountTo has expired: the server kept it until .* \\(its lifetime of execution\\)`));
  });

  it('is extended by the server while the command runs longer than its lifetime', async () => {
    const { server } = await bench({ executionLifetimeSeconds: 1 });
    const client = await connect(server.port, server.certificatePem);
    const execution = await client.start('TestBench', 'CountTo', { Target: 10, Interval: 0.25, FailAt: 0 });
    const lifetimes: number[] = [];
    for await (const info of execution.info()) if (info.updatedLifetimeSeconds !== undefined) lifetimes.push(info.updatedLifetimeSeconds);
    expect(lifetimes.length).toBeGreaterThan(5);
    expect(Math.min(...lifetimes)).toBeGreaterThan(0);
    // 2.5 s after a start with a 1 s lifetime, the execution is still there
    expect(await execution.result()).toEqual({ Total: 55 });
  });

  it('says when the server does not know an execution whose lifetime has not passed', async () => {
    const { server } = await bench();
    const client = await connect(server.port, server.certificatePem);
    const error = await client.attach('TestBench', 'CountTo', '00000000-0000-4000-8000-000000000000').result().catch((e) => e);
    expect(error).toBeInstanceOf(FrameworkError);
    expect(error).not.toBeInstanceOf(ExecutionExpiredError);
    expect(error.message).toMatch(/the server does not know execution 00000000-0000-4000-8000-000000000000 of CountTo/);
  });
});

describe('metadata goes only to the calls it affects', () => {
  it('sends caller-given metadata and the lock identifier only where the server says they apply', async () => {
    const { server } = await bench({ coreFeatures: { lockController: { protects: [`${BENCH}/Command/Secret`] } } });
    const client = await connect(server.port, server.certificatePem);
    const sent: Array<{ rpc: string; headers: string[] }> = [];
    const transport = (client as any).transport;
    const unary = transport.unary.bind(transport);
    transport.unary = (rpc: { name: string }, request: object, metadata: grpc.Metadata, options: object) => {
      sent.push({ rpc: rpc.name, headers: Object.keys(metadata.getMap()).filter((h) => h.startsWith('sila-')) });
      return unary(rpc, request, metadata, options);
    };
    const token = 'sila-dev.workcell-tests-testbench-v1-metadata-accesstoken-bin';
    const lockHeader = 'sila-org.silastandard-core-lockcontroller-v1-metadata-lockidentifier-bin';

    expect(await client.call('TestBench', 'Echo', { Value: echoValue }, { metadata: { AccessToken: 'operator-7' } })).toHaveProperty('Value');
    expect(await client.call('TestBench', 'Secret', {}, { metadata: { AccessToken: 'operator-7' } })).toEqual({ Caller: 'operator-7' });
    const lock = await client.lock({ timeoutSeconds: 30 });
    expect(lock.protectedCalls).toEqual([`${BENCH}/Command/Secret`]);
    expect(await client.get('TestBench', 'Greeting')).toBe('hello from the bench');
    expect(await client.call('TestBench', 'Secret', {}, { metadata: { AccessToken: 'operator-8' } })).toEqual({ Caller: 'operator-8' });
    await lock.release();

    const headersOf = (rpc: string) => sent.filter((s) => s.rpc === rpc).map((s) => s.headers.sort());
    expect(headersOf('Echo')).toEqual([[]]);
    expect(headersOf('Secret')).toEqual([[token], [lockHeader, token].sort()]);
    expect(headersOf('Get_Greeting')).toEqual([[]]);
    expect(headersOf('LockServer')).toEqual([[]]);
    expect(headersOf('UnlockServer')).toEqual([[]]);
  });

  it('is refused by a locked server on the calls the lock protects, and accepted on the others', async () => {
    const { server } = await bench({ coreFeatures: { lockController: { protects: [`${BENCH}/Command/Secret`] } } });
    const holder = await connect(server.port, server.certificatePem);
    const other = await connect(server.port, server.certificatePem);
    await holder.lock({ timeoutSeconds: 30 });
    const refused = await other.call('TestBench', 'Secret', {}, { metadata: { AccessToken: 'x' } }).catch((e) => e);
    expect(refused).toBeInstanceOf(FrameworkError);
    expect(refused.errorType).toBe('INVALID_METADATA');
    expect(refused.message).toContain(`${CORE_FEATURES.LockController}/Metadata/LockIdentifier`);
    expect(await other.get('TestBench', 'Greeting')).toBe('hello from the bench');
    expect(await holder.call('TestBench', 'Secret', {}, { metadata: { AccessToken: 'y' } })).toEqual({ Caller: 'y' });
  });
});

describe('binary transfer above 2 MiB', () => {
  it('uploads a parameter and downloads a response in chunks of at most 2 MiB through the binary transfer services', async () => {
    const { server } = await bench();
    const client = await connect(server.port, server.certificatePem);
    const transport = (client as any).transport;
    const calls: string[] = [];
    const unary = transport.unary.bind(transport);
    transport.unary = (rpc: { path: string }, ...rest: unknown[]) => {
      calls.push(rpc.path);
      return unary(rpc, ...rest);
    };
    const grpcClient = transport.grpcClient as grpc.Client;
    const bidi = grpcClient.makeBidiStreamRequest.bind(grpcClient);
    const chunks: Array<{ path: string; bytes: number }> = [];
    grpcClient.makeBidiStreamRequest = ((path: string, serialize: (m: any) => Buffer, ...rest: unknown[]) =>
      (bidi as any)(path, (m: any) => {
        const bytes = serialize(m);
        chunks.push({ path, bytes: bytes.length });
        return bytes;
      }, ...rest)) as typeof grpcClient.makeBidiStreamRequest;
    const data = Buffer.alloc(5 * 1024 * 1024 + 3, 7);
    const { Reversed } = (await client.call('TestBench', 'Checksum', { Data: data })) as { Reversed: Uint8Array };
    expect(Buffer.from(Reversed).equals(Buffer.from(data).reverse())).toBe(true);
    expect(calls).toEqual(expect.arrayContaining(['/sila2.org.silastandard.BinaryUpload/CreateBinary', '/sila2.org.silastandard.BinaryDownload/GetBinaryInfo', '/sila2.org.silastandard.BinaryDownload/DeleteBinary']));
    const uploads = chunks.filter((c) => c.path.endsWith('/UploadChunk'));
    expect(uploads).toHaveLength(3);
    expect(Math.max(...uploads.map((c) => c.bytes))).toBeLessThan(2 * 1024 * 1024 + 100);
    expect(chunks.filter((c) => c.path.endsWith('/GetChunk'))).toHaveLength(3);
  });
});

describe("a client's lock", () => {
  const protects = { coreFeatures: { lockController: { protects: [`${BENCH}/Command/Secret`] } } };

  it('is renewed while idle even where the server protects no harmless read (unlock and lock again)', async () => {
    const { server } = await bench(protects);
    const holder = await connect(server.port, server.certificatePem);
    const other = await connect(server.port, server.certificatePem);
    const lock = await holder.lock({ timeoutSeconds: 1 });
    await sleep(2600);
    expect(lock.active).toBe(true);
    expect(await other.get(CORE_FEATURES.LockController, 'IsLocked')).toBe(true);
    expect((await other.call('TestBench', 'Secret', {}, { metadata: { AccessToken: 'x' } }).catch((e) => e)).errorType).toBe('INVALID_METADATA');
    expect(await holder.call('TestBench', 'Secret', {}, { metadata: { AccessToken: 'mine' } })).toEqual({ Caller: 'mine' });
  });

  it('says when it lapsed on a restarted server and is taken again, and when another client took the server', async () => {
    const uuid = '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d';
    const tls = await createSelfSignedCertificate({ serverUuid: uuid });
    const first = await startTestBench({ uuid, tls, ...protects });
    const port = first.server.port;
    const holder = await connect(port, tls.certificatePem, { reconnectTimeoutMs: 20_000 });
    const lapses: string[] = [];
    const losses: Error[] = [];
    // Renewed every 2 s: the other client below locks the restarted server well before that.
    const lock = await holder.lock({ timeoutSeconds: 4, onLapse: (message) => lapses.push(message), onLost: (error) => losses.push(error) });

    // The device restarts and forgets the lock; nobody else takes it: the holder locks it again.
    await first.server.stop(100);
    const second = await startTestBench({ uuid, tls, port, ...protects });
    while (!lapses.length) await sleep(100);
    expect(lapses[0]).toBe(`the lock ${lock.lockId} had timed out on the server; locked again`);
    const other = await connect(port, tls.certificatePem);
    expect(await other.get(CORE_FEATURES.LockController, 'IsLocked')).toBe(true);

    // It restarts again and another client locks it first: the holder's lock is lost.
    await second.server.stop(100);
    const third = await bench({ uuid, tls, port, ...protects });
    const thief = await connect(port, tls.certificatePem);
    await thief.lock({ timeoutSeconds: 30 });
    while (!losses.length) await sleep(100);
    expect(losses[0]).toBeInstanceOf(DefinedExecutionError);
    expect((losses[0] as DefinedExecutionError).identifier).toMatch(/^(ServerAlreadyLocked|InvalidLockIdentifier)$/);
    expect(lock.active).toBe(false);
    expect(holder.heldLock).toBeUndefined();
    expect(third.server.port).toBe(port);
  });
});

const echoValue = {
  Text: 't', Whole: 1, Number: 1.5, Flag: true, Bytes: new Uint8Array([1]),
  Day: { year: 2026, month: 1, day: 2, timezone: { hours: 0, minutes: 0 } },
  Clock: { hour: 1, minute: 2, second: 3, millisecond: 4, timezone: { hours: 0, minutes: 0 } },
  Moment: { year: 2026, month: 1, day: 2, hour: 1, minute: 2, second: 3, millisecond: 4, timezone: { hours: 0, minutes: 0 } },
  Anything: { type: { kind: 'basic', basic: 'String' }, value: 'a' },
  Names: [], Path: [], Nested: { Label: 'l', Matrix: [] },
};

const STREAMS_FDL = `<?xml version="1.0" encoding="utf-8"?>
<Feature xmlns="http://www.sila-standard.org" SiLA2Version="1.0" FeatureVersion="1.0" Originator="org.example" Category="tests">
  <Identifier>Sensors</Identifier><DisplayName>Sensors</DisplayName><Description>Streams that fail part way.</Description>
  <Command><Identifier>Run</Identifier><DisplayName>Run</DisplayName><Description>Runs until the pump stalls.</Description><Observable>Yes</Observable>
    <Response><Identifier>Done</Identifier><DisplayName>Done</DisplayName><Description>-</Description><DataType><Basic>Boolean</Basic></DataType></Response>
    <IntermediateResponse><Identifier>Step</Identifier><DisplayName>Step</DisplayName><Description>-</Description><DataType><Basic>Integer</Basic></DataType></IntermediateResponse>
  </Command>
  <Property><Identifier>Reading</Identifier><DisplayName>Reading</DisplayName><Description>A sensor that can be lost.</Description><Observable>Yes</Observable>
    <DataType><Basic>Real</Basic></DataType><DefinedExecutionErrors><Identifier>SensorLost</Identifier></DefinedExecutionErrors></Property>
  <DefinedExecutionError><Identifier>SensorLost</Identifier><DisplayName>Sensor Lost</DisplayName><Description>The sensor stopped answering.</Description></DefinedExecutionError>
</Feature>`;

/**
 * A server written directly on grpc-js, as another SiLA implementation would be: its streams send one
 * message and then end with a SiLA error.
 */
async function failingServer(): Promise<{ port: number; ca: string }> {
  const uuid = '3d1f6b2a-9c4e-4f7a-8b1d-2e3f4a5b6c7d';
  const tls = await createSelfSignedCertificate({ serverUuid: uuid });
  const root = frameworkRoot();
  const silaService = readFeatureFile(coreFeatureFile('SiLAService'));
  const sensors = parseFeature(STREAMS_FDL);
  const serviceProto = deriveFeatureProto(silaService, root);
  const sensorsProto = deriveFeatureProto(sensors, root);
  const definitions = (proto: typeof serviceProto) => Object.fromEntries([...proto.rpcs.values()].map((rpc) => [rpc.name, methodDefinition(rpc)]));
  const text = (value: string) => ({ value });
  const unary = (response: object) => (_call: unknown, callback: grpc.sendUnaryData<any>) => callback(null, response);
  const server = new grpc.Server();
  server.addService(definitions(serviceProto), {
    GetFeatureDefinition: (call: grpc.ServerUnaryCall<any, any>, callback: grpc.sendUnaryData<any>) =>
      callback(null, { FeatureDefinition: text(call.request.FeatureIdentifier.value.toLowerCase().includes('sensors') ? sensors.xml : silaService.xml) }),
    SetServerName: unary({}),
    Get_ServerName: unary({ ServerName: text('Other implementation') }),
    Get_ServerType: unary({ ServerType: text('Other') }),
    Get_ServerUUID: unary({ ServerUUID: text(uuid) }),
    Get_ServerDescription: unary({ ServerDescription: text('') }),
    Get_ServerVersion: unary({ ServerVersion: text('1.0') }),
    Get_ServerVendorURL: unary({ ServerVendorURL: text('https://example.org') }),
    Get_ImplementedFeatures: unary({ ImplementedFeatures: [text(featureFqi(silaService)), text(featureFqi(sensors))] }),
  });
  const failAfterOne = (message: object, error: Parameters<typeof toGrpcStatus>[0]) => (call: grpc.ServerWritableStream<any, any>) => {
    call.write(message);
    setTimeout(() => call.emit('error', toGrpcStatus(error)), 50);
  };
  server.addService(definitions(sensorsProto), {
    Run: unary({ commandExecutionUUID: text('5b0c1d2e-3f4a-4b5c-8d6e-7f8091a2b3c4'), lifetimeOfExecution: { seconds: 60, nanos: 0 } }),
    Run_Info: failAfterOne({ commandStatus: 1, progressInfo: { value: 0.5 } }, new UndefinedExecutionError('the pump stalled')),
    Run_Intermediate: failAfterOne({ Step: { value: 1 } }, new UndefinedExecutionError('the pump stalled')),
    Run_Result: (_call: unknown, callback: grpc.sendUnaryData<any>) => callback(toGrpcStatus(new UndefinedExecutionError('the pump stalled')) as grpc.ServiceError),
    Subscribe_Reading: failAfterOne({ Reading: { value: 21.5 } }, new DefinedExecutionError(fqi.error(sensors, 'SensorLost'), 'the sensor stopped answering')),
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createSsl(null, [{ private_key: Buffer.from(tls.privateKeyPem), cert_chain: Buffer.from(tls.certificatePem) }]), (e, p) => (e ? reject(e) : resolve(p))),
  );
  cleanup.push(() => server.forceShutdown());
  return { port, ca: tls.certificatePem };
}

describe('SiLA errors in the middle of a stream', () => {
  it('end an observable property, an Info and an Intermediate stream with the typed error, not a stream end', async () => {
    const { port, ca } = await failingServer();
    const client = await connect(port, ca);
    const readings: unknown[] = [];
    const lost = await (async () => {
      for await (const value of client.subscribe('Sensors', 'Reading')) readings.push(value);
    })().catch((e) => e);
    expect(readings).toEqual([21.5]);
    expect(lost).toBeInstanceOf(DefinedExecutionError);
    expect(lost.errorIdentifier).toBe('org.example/tests/Sensors/v1/DefinedExecutionError/SensorLost');

    const execution = await client.start('Sensors', 'Run');
    const infos: string[] = [];
    const stalled = await (async () => {
      for await (const info of execution.info()) infos.push(info.status);
    })().catch((e) => e);
    expect(infos).toEqual(['running']);
    expect(stalled).toBeInstanceOf(UndefinedExecutionError);
    expect(stalled.message).toBe('the pump stalled');

    const merged = await (async () => {
      for await (const update of execution) void update;
    })().catch((e) => e);
    expect(merged).toBeInstanceOf(UndefinedExecutionError);
    const result = await execution.result().catch((e) => e);
    expect(result).toBeInstanceOf(UndefinedExecutionError);
    expect(result.message).toBe('the pump stalled');
  });

  it('reach the client from a Workcell server whose property stream fails', async () => {
    const server = new SilaServer({ name: 'Sensors', type: 'Sensors' });
    const feature = parseFeature(STREAMS_FDL);
    server.addFeature(feature, {
      commands: { Run: () => ({ Done: true }) },
      properties: {
        Reading: async function* () {
          yield 20.5;
          await sleep(50);
          throw new DefinedExecutionError('SensorLost', 'the sensor stopped answering');
        },
      },
    });
    await server.start();
    cleanup.push(() => server.stop(100));
    const client = await connect(server.port, server.certificatePem);
    const seen: unknown[] = [];
    const error = await (async () => {
      for await (const value of client.subscribe('Sensors', 'Reading')) seen.push(value);
    })().catch((e) => e);
    expect(seen).toEqual([20.5]);
    expect(error).toBeInstanceOf(DefinedExecutionError);
    expect(error.errorIdentifier).toBe('org.example/tests/Sensors/v1/DefinedExecutionError/SensorLost');
  });
});

describe('a server restarted with a new certificate', () => {
  it('is refused at once as untrusted, for calls and for streams, instead of a missed deadline', async () => {
    const uuid = '7e2a4c6d-8f01-4b23-9c45-6d7e8f9a0b1c';
    const original = await createSelfSignedCertificate({ serverUuid: uuid });
    const first = await startTestBench({ uuid, tls: original });
    const port = first.server.port;
    const client = await connect(port, original.certificatePem, { callTimeoutMs: 30_000, reconnectTimeoutMs: 30_000 });
    expect(await client.get('TestBench', 'Greeting')).toBe('hello from the bench');
    const subscription = (async () => {
      for await (const value of client.subscribe('TestBench', 'Counter')) void value;
    })().catch((e) => e);
    await sleep(100);
    await first.server.stop(100);
    const second = await bench({ uuid, port, tls: await createSelfSignedCertificate({ serverUuid: uuid }) });
    second.counter.set(5);

    const call = await client.get('TestBench', 'Greeting').catch((e) => e);
    expect(call).toBeInstanceOf(UntrustedCertificateError);
    expect(call.message).toMatch(new RegExp(`the certificate of 127\\.0\\.0\\.1:${port} is not trusted .*Pass the server's CA certificate`));
    expect(await subscription).toBeInstanceOf(UntrustedCertificateError);
    // a later call says the same, without waiting for its deadline either
    expect(await client.call('TestBench', 'Fail', { How: 'defined' }).catch((e) => e)).toBeInstanceOf(UntrustedCertificateError);
  });
});

describe('a server that goes away during an observable command', () => {
  it('ends the Info stream early as a lost connection, not a finish, and gives up after the reconnect limit', async () => {
    const tls = await createSelfSignedCertificate({ serverUuid: '7a1f6b2e-3c4d-4e5f-8a9b-0c1d2e3f4a5b' });
    const { server } = await startTestBench({ uuid: '7a1f6b2e-3c4d-4e5f-8a9b-0c1d2e3f4a5b', tls });
    const client = await connect(server.port, tls.certificatePem, { reconnectTimeoutMs: 1500 });
    const execution = await client.start(BENCH, 'CountTo', { Target: 1000, Interval: 0.5, FailAt: 0 });
    const seen: string[] = [];
    const following = (async () => {
      for await (const update of execution) if (update.kind === 'info') seen.push(update.status);
    })();
    await sleep(300);
    // A graceful stop ends the server's streams without a final status.
    await server.stop(100);
    const outcome = await Promise.race([following.then(() => 'ended as if finished', (error: Error) => error), sleep(8000).then(() => 'still waiting')]);
    expect(outcome).toBeInstanceOf(SilaConnectionError);
    expect((outcome as Error).message).toMatch(/unreachable for \d+ s|ended .* early/);
    expect(seen).not.toContain('finishedSuccessfully');
    const result = await Promise.race([execution.result().then(() => 'result', (error: Error) => error), sleep(8000).then(() => 'still waiting')]);
    expect(result).toBeInstanceOf(SilaConnectionError);
  }, 30_000);
});
