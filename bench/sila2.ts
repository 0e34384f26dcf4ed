/**
 * SiLA 2 over TLS on loopback: unobservable command round trips and observable command lifecycles per
 * second through Workcell's client and server, beside raw @grpc/grpc-js calls carrying the same
 * protobuf payloads over the same kind of TLS connection, measured in the same run.
 */
import * as grpc from '@grpc/grpc-js';
import { SilaClient } from '../drivers/sila2/client.ts';
import { parseFeature } from '../drivers/sila2/fdl.ts';
import { deriveFeatureProto, frameworkRoot } from '../drivers/sila2/proto.ts';
import { methodDefinition } from '../drivers/sila2/grpc-methods.ts';
import { SilaServer } from '../drivers/sila2/server.ts';
import { createSelfSignedCertificate } from '../drivers/sila2/tls.ts';
import { interleaved, ms, percent, rate, table, type Measurement } from './harness.ts';

const FEATURE = `<?xml version="1.0" encoding="utf-8"?>
<Feature SiLA2Version="1.0" FeatureVersion="1.0" Originator="dev.workcell" Category="bench" xmlns="http://www.sila-standard.org">
  <Identifier>Bench</Identifier><DisplayName>Bench</DisplayName><Description>Benchmark feature.</Description>
  <Command><Identifier>Ping</Identifier><DisplayName>Ping</DisplayName><Description>Echo.</Description><Observable>No</Observable>
    <Parameter><Identifier>BatchId</Identifier><DisplayName>Batch</DisplayName><Description>-</Description><DataType><Basic>String</Basic></DataType></Parameter>
    <Parameter><Identifier>Volume</Identifier><DisplayName>Volume</DisplayName><Description>-</Description><DataType><Basic>Real</Basic></DataType></Parameter>
    <Parameter><Identifier>Cycles</Identifier><DisplayName>Cycles</DisplayName><Description>-</Description><DataType><Basic>Integer</Basic></DataType></Parameter>
    <Response><Identifier>BatchId</Identifier><DisplayName>Batch</DisplayName><Description>-</Description><DataType><Basic>String</Basic></DataType></Response>
    <Response><Identifier>Volume</Identifier><DisplayName>Volume</DisplayName><Description>-</Description><DataType><Basic>Real</Basic></DataType></Response>
  </Command>
  <Command><Identifier>Job</Identifier><DisplayName>Job</DisplayName><Description>Finishes at once.</Description><Observable>Yes</Observable>
    <Parameter><Identifier>BatchId</Identifier><DisplayName>Batch</DisplayName><Description>-</Description><DataType><Basic>String</Basic></DataType></Parameter>
    <Parameter><Identifier>Volume</Identifier><DisplayName>Volume</DisplayName><Description>-</Description><DataType><Basic>Real</Basic></DataType></Parameter>
    <Parameter><Identifier>Cycles</Identifier><DisplayName>Cycles</DisplayName><Description>-</Description><DataType><Basic>Integer</Basic></DataType></Parameter>
    <Response><Identifier>BatchId</Identifier><DisplayName>Batch</DisplayName><Description>-</Description><DataType><Basic>String</Basic></DataType></Response>
    <Response><Identifier>Volume</Identifier><DisplayName>Volume</DisplayName><Description>-</Description><DataType><Basic>Real</Basic></DataType></Response>
  </Command>
</Feature>`;

/** Workcell's SiLA layer may cost at most a tenth of raw grpc-js throughput (issue 13). */
const TARGET_RATIO = 0.9;

const PARAMETERS = { BatchId: 'P-001/lane-2/wash', Volume: 40.5, Cycles: 2 };
const WIRE_PARAMETERS = { BatchId: { value: PARAMETERS.BatchId }, Volume: { value: PARAMETERS.Volume }, Cycles: { value: PARAMETERS.Cycles } };

export async function siLA2Benchmark(options: { durationMs: number; concurrency: number; rounds: number }): Promise<string> {
  const tls = await createSelfSignedCertificate({ serverUuid: '0b8f1d2e-3c4a-4b5c-8d6e-7f8091a2b3c4' });
  const feature = parseFeature(FEATURE);

  const server = new SilaServer({ name: 'Bench', type: 'Bench', uuid: '0b8f1d2e-3c4a-4b5c-8d6e-7f8091a2b3c4', tls });
  server.addFeature(feature, {
    commands: {
      Ping: ({ BatchId, Volume }) => ({ BatchId, Volume }),
      Job: ({ BatchId, Volume }) => ({ BatchId, Volume }),
    },
  });
  await server.start();
  const client = await SilaClient.connect({ host: '127.0.0.1', port: server.port, ca: tls.certificatePem });

  // The raw baseline: the same messages, the same TLS, no SiLA layer.
  const proto = deriveFeatureProto(feature, frameworkRoot());
  const ping = methodDefinition(proto.rpcs.get('Ping')!);
  const info = methodDefinition(proto.rpcs.get('Job_Info')!);
  const rawServer = new grpc.Server();
  rawServer.addService(
    { Ping: ping, Job_Info: info },
    {
      Ping: (call: grpc.ServerUnaryCall<any, any>, callback: grpc.sendUnaryData<any>) => callback(null, { BatchId: call.request.BatchId, Volume: call.request.Volume }),
      Job_Info: (call: grpc.ServerWritableStream<any, any>) => {
        call.write({ commandStatus: 2, progressInfo: { value: 1 } });
        call.end();
      },
    },
  );
  const rawPort = await new Promise<number>((resolve, reject) =>
    rawServer.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createSsl(null, [{ private_key: Buffer.from(tls.privateKeyPem), cert_chain: Buffer.from(tls.certificatePem) }]), (e, p) => (e ? reject(e) : resolve(p))),
  );
  const rawClient = new grpc.Client(`127.0.0.1:${rawPort}`, grpc.credentials.createSsl(Buffer.from(tls.certificatePem), null, null, { checkServerIdentity: () => undefined }), {
    'grpc.ssl_target_name_override': 'SiLA2',
  });
  const rawUnary = () =>
    new Promise((resolve, reject) => rawClient.makeUnaryRequest(ping.path, ping.requestSerialize, ping.responseDeserialize, WIRE_PARAMETERS, (e, r) => (e ? reject(e) : resolve(r))));
  const rawStream = () =>
    new Promise((resolve, reject) => {
      const call = rawClient.makeServerStreamRequest(info.path, info.requestSerialize, info.responseDeserialize, { value: 'x' });
      call.on('data', () => undefined);
      call.on('error', reject);
      call.on('end', resolve);
    });

  const results: Array<[string, Measurement, Measurement]> = [];
  try {
    results.push(['unobservable command round trip', ...(await interleaved(() => client.call('Bench', 'Ping', PARAMETERS), rawUnary, options))]);
    // An observable lifecycle is three calls: start (unary), Info (stream), Result (unary).
    const rawLifecycle = async () => {
      await rawUnary();
      await rawStream();
      await rawUnary();
    };
    results.push(['observable command lifecycle', ...(await interleaved(async () => (await client.start('Bench', 'Job', PARAMETERS)).result(), rawLifecycle, options))]);
  } finally {
    client.close();
    rawClient.close();
    rawServer.forceShutdown();
    await server.stop(100);
  }
  const rows = results.map(([name, sila, raw]) => [
    name,
    rate(sila.perSecond),
    rate(raw.perSecond),
    percent(sila.perSecond / raw.perSecond),
    `>= ${percent(TARGET_RATIO)}`,
    sila.perSecond / raw.perSecond >= TARGET_RATIO ? 'met' : 'NOT met',
    `${ms(sila.p50Ms)} / ${ms(sila.p99Ms)}`,
  ]);
  return table(
    `SiLA 2 over TLS on loopback (${options.concurrency} calls in flight; median of ${options.rounds} interleaved rounds of ${options.durationMs / 1000} s each)`,
    ['what', 'Workcell SiLA', 'raw @grpc/grpc-js, same payload', 'ratio', 'target', 'result', 'SiLA p50 / p99'],
    rows,
  );
}
