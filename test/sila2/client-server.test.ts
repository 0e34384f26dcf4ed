import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SilaClient, TransportSecurityError, UntrustedCertificateError, type ExecutionUpdate } from '../../drivers/sila2/client.ts';
import { DefinedExecutionError, FrameworkError, SilaConnectionError, UndefinedExecutionError, ValidationError } from '../../drivers/sila2/errors.ts';
import { createSelfSignedCertificate } from '../../drivers/sila2/tls.ts';
import { SilaServer } from '../../drivers/sila2/server.ts';
import { dataTypeToXml } from '../../drivers/sila2/fdl.ts';
import type { DataType } from '../../drivers/sila2/feature.ts';
import { startTestBench, type TestBench } from '../support/test-bench-server.ts';

const BENCH = 'dev.workcell/tests/TestBench/v1';
let bench: TestBench;
let client: SilaClient;

const connect = () => SilaClient.connect({ host: '127.0.0.1', port: bench.server.port, ca: bench.server.certificatePem });

beforeAll(async () => {
  bench = await startTestBench();
  client = await connect();
});

afterAll(async () => {
  client?.close();
  await bench?.server.stop();
});

describe('discovery of an unknown server', () => {
  it('reads the identity and every feature definition over TLS', () => {
    expect(client.identity).toMatchObject({ name: 'Test bench', type: 'TestBench', version: '1.0.0', uuid: bench.server.identity.uuid });
    expect(client.identity.implementedFeatures).toEqual(['org.silastandard/core/SiLAService/v1', BENCH]);
    expect(client.features.map((f) => f.identifier)).toEqual(['SiLAService', 'TestBench']);
    expect(client.certificateServerUuid).toBe(bench.server.identity.uuid);
  });

  it('returns the feature definition unchanged and refuses an unknown feature with UnimplementedFeature', async () => {
    const { FeatureDefinition } = await client.call('SiLAService', 'GetFeatureDefinition', { FeatureIdentifier: BENCH.toUpperCase() });
    expect(FeatureDefinition).toBe(bench.server.features[1]!.xml);
    const error = await client.call('SiLAService', 'GetFeatureDefinition', { FeatureIdentifier: 'org.example/x/Nothing/v1' }).catch((e) => e);
    expect(error).toBeInstanceOf(DefinedExecutionError);
    expect(error.errorIdentifier).toBe('org.silastandard/core/SiLAService/v1/DefinedExecutionError/UnimplementedFeature');
  });

  it('sets the server name', async () => {
    await client.call('SiLAService', 'SetServerName', { ServerName: 'Bench 2' });
    expect(await client.get('SiLAService', 'ServerName')).toBe('Bench 2');
    const tooLong = await client.call('SiLAService', 'SetServerName', { ServerName: 'x'.repeat(256) }).catch((e) => e);
    expect(tooLong).toBeInstanceOf(ValidationError);
    expect(tooLong.parameter).toBe('org.silastandard/core/SiLAService/v1/Command/SetServerName/Parameter/ServerName');
  });
});

describe('every data type', () => {
  const tz = { hours: -3, minutes: 30 };
  const structure: DataType = { kind: 'structure', elements: [{ identifier: 'A', displayName: 'A', description: 'a', dataType: { kind: 'basic', basic: 'Integer' } }] };
  const everything = (anything: { type: DataType; value: any }) => ({
    Text: 'Grüße, 患者 🧫',
    Whole: -(2 ** 40),
    Number: 6.02e23,
    Flag: true,
    Bytes: new Uint8Array([0, 1, 2, 254, 255]),
    Day: { year: 2026, month: 2, day: 28, timezone: tz },
    Clock: { hour: 23, minute: 59, second: 58, millisecond: 999, timezone: { hours: 14, minutes: 0 } },
    Moment: { year: 2026, month: 11, day: 22, hour: 3, minute: 4, second: 5, millisecond: 6, timezone: { hours: 0, minutes: 0 } },
    Anything: anything,
    Names: ['P-001', '', 'P-003'],
    Path: [{ X: 1.5, Y: -2 }, { X: 0, Y: 0 }],
    Nested: { Label: 'lane-1', Matrix: [{ Row: [1, 2, 3] }, { Row: [] }] },
  });

  it.each<[string, { type: DataType; value: any }]>([
    ['a string', { type: { kind: 'basic', basic: 'String' }, value: 'text' }],
    ['a real', { type: { kind: 'basic', basic: 'Real' }, value: 37.5 }],
    ['a list of integers', { type: { kind: 'list', element: { kind: 'basic', basic: 'Integer' } }, value: [1, 2, 3] }],
    ['a structure', { type: structure, value: { A: 7 } }],
    ['a timestamp', { type: { kind: 'basic', basic: 'Timestamp' }, value: { year: 2030, month: 1, day: 1, hour: 0, minute: 0, second: 0, millisecond: 0, timezone: tz } }],
    ['void', { type: { kind: 'constrained', base: { kind: 'basic', basic: 'String' }, constraints: { length: 0 } }, value: '' }],
  ])('round-trips a structure of all types holding Any as %s', async (_name, anything) => {
    const value = everything(anything);
    const { Value } = await client.call('TestBench', 'Echo', { Value: value });
    expect(Value).toEqual({ ...value, Bytes: Buffer.from(value.Bytes) });
  });

  it('keeps integers beyond 2^53 exact as bigint', async () => {
    const value = everything({ type: { kind: 'basic', basic: 'Integer' }, value: 9007199254740993n });
    value.Whole = -9223372036854775807n as unknown as number;
    const { Value } = (await client.call('TestBench', 'Echo', { Value: value })) as { Value: any };
    expect(Value.Whole).toBe(-9223372036854775807n);
    expect(Value.Anything.value).toBe(9007199254740993n);
  });

  it('writes the type of an Any as FDL XML', () => {
    expect(dataTypeToXml(structure)).toBe('<DataType><Structure><Element><Identifier>A</Identifier><DisplayName>A</DisplayName><Description>a</Description><DataType><Basic>Integer</Basic></DataType></Element></Structure></DataType>');
  });
});

describe('errors', () => {
  const parameter = (name: string) => `${BENCH}/Command/SetTemperature/Parameter/${name}`;
  const valid = { Temperature: 37, SampleCode: 'AB1234', Mode: 'heat', Readings: [1] };

  it.each([
    ['a value above MaximalInclusive', { Temperature: 37.5 }, 'Temperature', 'is not at most 37'],
    ['a pattern mismatch', { SampleCode: 'ab1234' }, 'SampleCode', 'does not match the pattern'],
    ['a value outside the set', { Mode: 'boil' }, 'Mode', 'is not one of heat, cool'],
    ['too many list elements', { Readings: [1, 2, 3, 4] }, 'Readings', 'at most 3 elements'],
    ['too few list elements', { Readings: [] }, 'Readings', 'at least 1 elements'],
  ])('refuses %s with a ValidationError naming the parameter', async (_name, change, name, text) => {
    const error = await client.call('TestBench', 'SetTemperature', { ...valid, ...change }).catch((e) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect(error.parameter).toBe(parameter(name));
    expect(error.message).toContain(text);
  });

  it('accepts values inside the constraints', async () => {
    expect(await client.call('TestBench', 'SetTemperature', { ...valid, Temperature: 4 })).toEqual({ Accepted: 4 });
  });

  it('refuses a parameter the client did not send (no wrapper message) on the server side', async () => {
    const handle = (client as any).handle('TestBench');
    const error = await client.unary(handle.proto.rpcs.get('SetTemperature'), { Temperature: { value: 20 } }, {}, handle).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).parameter).toBe(parameter('SampleCode'));
  });

  it('passes a defined execution error with its fully qualified identifier', async () => {
    const error = await client.call('TestBench', 'Fail', { How: 'defined' }).catch((e) => e);
    expect(error).toBeInstanceOf(DefinedExecutionError);
    expect(error.errorIdentifier).toBe(`${BENCH}/DefinedExecutionError/DoorOpen`);
    expect(error.message).toBe('the door of the test bench is open');
  });

  it('turns any other failure into an undefined execution error', async () => {
    const error = await client.call('TestBench', 'Fail', { How: 'boom' }).catch((e) => e);
    expect(error).toBeInstanceOf(UndefinedExecutionError);
    expect(error.message).toBe('something unexpected broke');
  });

  it('answers an unknown execution UUID with INVALID_COMMAND_EXECUTION_UUID', async () => {
    const error = await client.attach('TestBench', 'CountTo', '00000000-0000-0000-0000-000000000000').result().catch((e) => e);
    expect(error).toBeInstanceOf(FrameworkError);
    expect(error.errorType).toBe('INVALID_COMMAND_EXECUTION_UUID');
  });

  it('refuses to start an execution it does not admit with COMMAND_EXECUTION_NOT_ACCEPTED', async () => {
    const error = await client.start('TestBench', 'CountTo', { Target: 5000, Interval: 0, FailAt: 0 }).catch((e) => e);
    expect(error).toBeInstanceOf(FrameworkError);
    expect(error.errorType).toBe('COMMAND_EXECUTION_NOT_ACCEPTED');
    expect(error.message).toBe('the bench counts to 1000 at most, not 5000');
  });

  it('answers a result asked for too early with COMMAND_EXECUTION_NOT_FINISHED', async () => {
    const execution = await client.start('TestBench', 'CountTo', { Target: 3, Interval: 0.2, FailAt: 0 });
    const handle = (client as any).handle('TestBench');
    const error = await client.unary(handle.proto.rpcs.get('CountTo_Result'), { value: execution.uuid }, {}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FrameworkError);
    expect((error as FrameworkError).errorType).toBe('COMMAND_EXECUTION_NOT_FINISHED');
    expect(await execution.result()).toEqual({ Total: 6 });
  });
});

describe('observable commands', () => {
  it('report status, progress, remaining time and intermediate responses, then the result', async () => {
    const execution = await client.start('TestBench', 'CountTo', { Target: 5, Interval: 0.15, FailAt: 0 });
    expect(execution.uuid).toMatch(/^[0-9a-f-]{36}$/);
    const updates: ExecutionUpdate[] = [];
    for await (const update of execution) updates.push(update);
    const intermediates = updates.flatMap((u) => (u.kind === 'intermediate' ? [u.responses.Current] : []));
    expect(intermediates).toEqual([1, 2, 3, 4, 5]);
    const infos = updates.filter((u) => u.kind === 'info') as Array<ExecutionUpdate & { kind: 'info' }>;
    expect(infos[0]!.status).toBe('running');
    expect(infos.at(-1)).toMatchObject({ status: 'finishedSuccessfully', progress: 1, estimatedRemainingSeconds: 0 });
    const progress = infos.map((i) => i.progress ?? 0);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    expect(await execution.result()).toEqual({ Total: 15 });
  });

  it('finish with the defined error the handler raised', async () => {
    const execution = await client.start('TestBench', 'CountTo', { Target: 5, Interval: 0.01, FailAt: 3 });
    const statuses: string[] = [];
    for await (const info of execution.info()) statuses.push(info.status);
    expect(statuses.at(-1)).toBe('finishedWithError');
    const error = await execution.result().catch((e) => e);
    expect(error).toBeInstanceOf(DefinedExecutionError);
    expect(error.message).toBe('door opened at 3');
  });

  it('run hundreds of lifecycles concurrently on one connection without resetting it', async () => {
    // Cancelling finished streams looked like an HTTP/2 rapid-reset attack and the server dropped the session.
    const totals = await Promise.all(
      Array.from({ length: 16 }, async () => {
        let sum = 0;
        for (let i = 0; i < 25; i++) sum += (await (await client.start('TestBench', 'CountTo', { Target: 1, Interval: 0, FailAt: 0 })).result()).Total as number;
        return sum;
      }),
    );
    expect(totals).toEqual(Array(16).fill(25));
  });

  it('can be re-attached by execution UUID from a new client after the first one is gone', async () => {
    const first = await connect();
    const execution = await first.start('TestBench', 'CountTo', { Target: 10, Interval: 0.03, FailAt: 0 });
    const uuid = execution.uuid;
    first.close();
    const second = await connect();
    try {
      const attached = second.attach('TestBench', 'CountTo', uuid);
      expect(await attached.result()).toEqual({ Total: 55 });
    } finally {
      second.close();
    }
  });
});

describe('properties', () => {
  it('reads an unobservable property', async () => {
    expect(await client.get('TestBench', 'Greeting')).toBe('hello from the bench');
  });

  it('streams an observable property: the current value at once, then every change', async () => {
    bench.counter.set(10);
    const seen: number[] = [];
    const stop = new AbortController();
    const done = (async () => {
      for await (const value of client.subscribe('TestBench', 'Counter', { signal: stop.signal })) {
        seen.push(value as number);
        if (value === 10) setTimeout(() => [11, 12].forEach((v) => bench.counter.set(v)), 20);
        if (value === 12) stop.abort();
      }
    })();
    await done;
    expect(seen).toEqual([10, 11, 12]);
  });
});

describe('metadata', () => {
  it('is delivered to the handler', async () => {
    expect(await client.call('TestBench', 'Secret', {}, { metadata: { AccessToken: 'operator-7' } })).toEqual({ Caller: 'operator-7' });
  });

  it('is required where the feature says so', async () => {
    const error = await client.call('TestBench', 'Secret').catch((e) => e);
    expect(error).toBeInstanceOf(FrameworkError);
    expect(error.errorType).toBe('INVALID_METADATA');
    expect(error.message).toContain(`${BENCH}/Metadata/AccessToken`);
  });

  it('lists the calls it affects', async () => {
    expect(await client.affectedCalls('TestBench', 'AccessToken')).toEqual([`${BENCH}/Command/Secret`]);
  });

  it('is refused on SiLAService with NO_METADATA_ALLOWED', async () => {
    const handle = (client as any).handle('SiLAService');
    const metadata = client.metadata({ AccessToken: 'x' });
    const error = await new Promise((resolve) => {
      (client as any).transport.grpcClient.makeUnaryRequest(
        handle.proto.rpcs.get('Get_ServerName').path,
        (m: object) => Buffer.from(handle.proto.rpcs.get('Get_ServerName').requestType.encode(m).finish()),
        (b: Buffer) => b,
        {},
        metadata,
        {},
        (e: unknown) => resolve(e),
      );
    });
    const { fromGrpcError } = await import('../../drivers/sila2/errors.ts');
    const mapped = fromGrpcError(error as any);
    expect(mapped).toBeInstanceOf(FrameworkError);
    expect((mapped as FrameworkError).errorType).toBe('NO_METADATA_ALLOWED');
  });
});

describe('binary transfer', () => {
  it('moves 5 MiB to the server and 5 MiB back in chunks', async () => {
    const data = randomBytes(5 * 1024 * 1024);
    const { Reversed, Sha256 } = (await client.call('TestBench', 'Checksum', { Data: data })) as { Reversed: Uint8Array; Sha256: string };
    expect(Sha256).toBe(createHash('sha256').update(data).digest('hex'));
    expect(Reversed.length).toBe(data.length);
    expect(Buffer.from(Reversed).equals(Buffer.from(data).reverse())).toBe(true);
  });

  it('keeps small binaries inline', async () => {
    const { Sha256 } = await client.call('TestBench', 'Checksum', { Data: new Uint8Array([1, 2, 3]) });
    expect(Sha256).toBe(createHash('sha256').update(new Uint8Array([1, 2, 3])).digest('hex'));
  });
});

describe('transport security', () => {
  it('refuses plain text against a TLS server with a clear message', async () => {
    const error = await SilaClient.connect({ host: '127.0.0.1', port: bench.server.port, insecure: true }).catch((e) => e);
    expect(error).toBeInstanceOf(TransportSecurityError);
    expect(error.message).toMatch(/requires TLS; refusing to talk plain text/);
  });

  it('refuses an untrusted certificate', async () => {
    const error = await SilaClient.connect({ host: '127.0.0.1', port: bench.server.port }).catch((e) => e);
    expect(error).toBeInstanceOf(UntrustedCertificateError);
    expect(error.message).toMatch(/not trusted \(DEPTH_ZERO_SELF_SIGNED_CERT/);
    const other = await createSelfSignedCertificate({ serverUuid: '11111111-2222-3333-4444-555555555555' });
    const wrongCa = await SilaClient.connect({ host: '127.0.0.1', port: bench.server.port, ca: other.certificatePem }).catch((e) => e);
    expect(wrongCa).toBeInstanceOf(UntrustedCertificateError);
  });

  it('talks plain text only when both sides say insecure explicitly', async () => {
    const plain = await startTestBench({ insecure: true });
    try {
      const tlsClient = await SilaClient.connect({ host: '127.0.0.1', port: plain.server.port, ca: bench.server.certificatePem }).catch((e) => e);
      expect(tlsClient).toBeInstanceOf(TransportSecurityError);
      const insecureClient = await SilaClient.connect({ host: '127.0.0.1', port: plain.server.port, insecure: true });
      expect(await insecureClient.get('TestBench', 'Greeting')).toBe('hello from the bench');
      insecureClient.close();
    } finally {
      await plain.server.stop();
    }
  });

  it('says plainly when nothing listens', async () => {
    const stopped = await startTestBench();
    const port = stopped.server.port;
    await stopped.server.stop();
    const error = await SilaClient.connect({ host: '127.0.0.1', port, ca: stopped.server.certificatePem }).catch((e) => e);
    expect(error).toBeInstanceOf(SilaConnectionError);
    expect(error.message).toBe(`nothing is listening at 127.0.0.1:${port}`);
  });
});

describe('deadlines, cancellation and reconnection', () => {
  it('fails a call that overruns its deadline', async () => {
    const execution = await client.start('TestBench', 'CountTo', { Target: 5, Interval: 0.2, FailAt: 0 });
    const tooSoon = await execution.result({ timeoutMs: 300 }).then(() => 'finished', (e) => e);
    // result() follows the execution until it finishes; the deadline bounds the final C_Result call
    expect(tooSoon).toBe('finished');
    const expired = await client.unary((client as any).handle('TestBench').proto.rpcs.get('Get_Greeting'), {}, { timeoutMs: -1 }).catch((e: unknown) => e);
    expect(expired).toBeInstanceOf(SilaConnectionError);
    expect((expired as SilaConnectionError).code).toBe(4);
    expect((expired as SilaConnectionError).message).toMatch(/did not complete before its deadline/);
  });

  it('stops following an execution when the caller aborts', async () => {
    const execution = await client.start('TestBench', 'CountTo', { Target: 50, Interval: 0.05, FailAt: 0 });
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 100);
    const started = Date.now();
    for await (const info of execution.info(abort.signal)) void info;
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it('resumes a subscription after the server restarts on the same address', async () => {
    const tls = await createSelfSignedCertificate({ serverUuid: '6a1f2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d' });
    const identity = { uuid: '6a1f2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d', tls };
    const first = await startTestBench(identity);
    const port = first.server.port;
    const restartable = await SilaClient.connect({ host: '127.0.0.1', port, ca: tls.certificatePem, reconnectTimeoutMs: 20_000 });
    const seen: number[] = [];
    const stop = new AbortController();
    let second: TestBench | undefined;
    try {
      first.counter.set(1);
      for await (const value of restartable.subscribe('TestBench', 'Counter', { signal: stop.signal })) {
        seen.push(value as number);
        if (value === 1) {
          await first.server.stop(100);
          second = await startTestBench({ ...identity, port });
          second.counter.set(2);
        }
        if (value === 2) stop.abort();
      }
      expect(seen[0]).toBe(1);
      expect(seen.at(-1)).toBe(2);
    } finally {
      restartable.close();
      await second?.server.stop();
    }
  });
});

describe('server definition checks', () => {
  it('refuses an implementation that misses a handler', () => {
    const server = new SilaServer({ name: 'x', type: 'X', insecure: true });
    expect(() => server.addFeature('test/fixtures/sila/TestBench-v1_0.sila.xml', { commands: {} })).toThrow(/missing command Echo, command SetTemperature/);
  });

  it('refuses a certificate and key that do not belong together', async () => {
    const a = await createSelfSignedCertificate({ serverUuid: '11111111-2222-3333-4444-555555555555' });
    const b = await createSelfSignedCertificate({ serverUuid: '11111111-2222-3333-4444-555555555555' });
    expect(() => new SilaServer({ name: 'x', type: 'X', tls: { certificatePem: a.certificatePem, privateKeyPem: b.privateKeyPem } })).toThrow('the TLS private key does not belong to the certificate');
  });

  it('refuses an invalid identity', () => {
    expect(() => new SilaServer({ name: 'x', type: 'lowercase', insecure: true })).toThrow(/type 'lowercase' must start with an upper-case letter/);
  });
});
