/**
 * OPC UA through Workcell's driver on loopback (SignAndEncrypt, Basic256Sha256): read and method-call
 * round trips per second beside raw node-opcua session calls on the same connection, and a
 * subscription of 100 monitored items changing at 10 Hz, counted for loss, with end-to-end latency.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AttributeIds, DataType, StatusCodes, Variant, type ClientSession, type UAObject, type UAVariable } from 'node-opcua';
import { LadsServer } from '../drivers/opcua/lads-server.ts';
import { OpcUaDriver } from '../drivers/opcua/client.ts';
import { interleaved, ms, percent, percentile, rate, table } from './harness.ts';
import { freePort } from '../test/support/ports.ts';

const VENDOR = 'urn:workcell:bench';
const at = (name: string) => `nsu=${VENDOR};${name}`;
const ITEMS = 100;

export async function opcuaBenchmark(options: { durationMs: number; concurrency: number; rounds: number; subscriptionSeconds: number }): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'workcell-bench-opcua-'));
  const channels: UAVariable[] = [];
  const server = new LadsServer({
    port: await freePort(),
    pkiFolder: join(dir, 'server-pki'),
    users: { bench: 'bench' },
    devices: [],
    extend(addressSpace) {
      const ns = addressSpace.registerNamespace(VENDOR);
      const device = ns.addObject({ organizedBy: addressSpace.rootFolder.objects, browseName: 'BenchDevice' }) as UAObject;
      ns.addVariable({ componentOf: device, browseName: 'Setpoint', dataType: 'Double', value: { dataType: DataType.Double, value: 37 } });
      const ping = ns.addMethod(device, { browseName: 'Ping', inputArguments: [{ name: 'Value', dataType: DataType.Double }], outputArguments: [{ name: 'Value', dataType: DataType.Double }] });
      ping.bindMethod(async (inputs: Variant[], _context: unknown) => ({ statusCode: StatusCodes.Good, outputArguments: [new Variant({ dataType: DataType.Double, value: inputs[0]!.value })] }));
      for (let i = 0; i < ITEMS; i++) {
        channels.push(ns.addVariable({ componentOf: device, browseName: `Channel${i}`, dataType: 'Double', minimumSamplingInterval: 0, value: { dataType: DataType.Double, value: 0 } }) as UAVariable);
      }
    },
  });
  await server.start();
  const clientPki = join(dir, 'client-pki');
  await server.trustClientCertificate(await OpcUaDriver.applicationCertificate(clientPki));
  await OpcUaDriver.trustServerCertificate(clientPki, await server.certificate());
  const driver = await OpcUaDriver.connect({ endpoint: server.endpointUrl, pkiFolder: clientPki, user: { name: 'bench', password: 'bench' } });
  const session = (driver as unknown as { session: ClientSession }).session;
  const device = [at('BenchDevice')];
  const setpoint = await driver.nodeAt([...device, at('Setpoint')]);
  const deviceId = await driver.nodeAt(device);
  const pingId = await driver.nodeAt([...device, at('Ping')]);

  const rows: string[][] = [];
  try {
    const [driverRead, rawRead] = await interleaved(
      () => driver.readVariable([...device, at('Setpoint')]),
      () => session.read([{ nodeId: setpoint, attributeId: AttributeIds.Value }]),
      options,
    );
    const input = [new Variant({ dataType: DataType.Double, value: 1.5 })];
    const [driverCall, rawCall] = await interleaved(
      () => driver.callMethod(device, at('Ping'), input),
      () => session.call({ objectId: deviceId, methodId: pingId, inputArguments: input }),
      options,
    );
    for (const [name, subject, baseline] of [['read', driverRead, rawRead], ['method call', driverCall, rawCall]] as const) {
      const ratio = subject.perSecond / baseline.perSecond;
      rows.push([name, rate(subject.perSecond), rate(baseline.perSecond), percent(ratio), '>= 90%', ratio >= 0.9 ? 'met' : 'NOT met', `${ms(subject.p50Ms)} / ${ms(subject.p99Ms)}`]);
    }
    const subscription = await measureSubscription(driver, device, channels, options.subscriptionSeconds);
    return [
      table(`OPC UA through the driver, SignAndEncrypt on loopback (${options.concurrency} in flight; median of ${options.rounds} interleaved rounds of ${options.durationMs / 1000} s)`, ['what', 'Workcell driver', 'raw node-opcua session', 'ratio', 'target', 'result', 'driver p50 / p99'], rows),
      subscription,
    ].join('\n');
  } finally {
    await driver.close();
    await server.stop();
  }
}

/** 100 variables change together every 100 ms for `seconds`; every change must arrive, in order. */
async function measureSubscription(driver: OpcUaDriver, device: string[], channels: UAVariable[], seconds: number): Promise<string> {
  const lastSeen = new Array<number>(ITEMS).fill(0);
  let received = 0;
  let gaps = 0;
  const latencies: number[] = [];
  const sentAt = new Map<number, number>();
  const subscription = await driver.monitorVariables(
    channels.map((_, i) => ({ key: String(i), path: [...device, at(`Channel${i}`)] })),
    50,
    (key, value) => {
      const i = Number(key);
      const tick = Number(value);
      if (tick === 0) return;
      received++;
      if (tick !== lastSeen[i]! + 1) gaps += tick - lastSeen[i]! - 1;
      lastSeen[i] = tick;
      const sent = sentAt.get(tick);
      if (sent !== undefined) latencies.push(performance.now() - sent);
    },
  );
  await new Promise((r) => setTimeout(r, 500));
  const ticks = Math.round(seconds * 10);
  for (let tick = 1; tick <= ticks; tick++) {
    sentAt.set(tick, performance.now());
    for (const channel of channels) channel.setValueFromSource(new Variant({ dataType: DataType.Double, value: tick }));
    await new Promise((r) => setTimeout(r, 100));
  }
  await new Promise((r) => setTimeout(r, 1000));
  await subscription.close();
  const expected = ticks * ITEMS;
  latencies.sort((a, b) => a - b);
  const lost = expected - received;
  return table(
    `Subscription: ${ITEMS} monitored items changing at 10 Hz for ${seconds} s (sampling 50 ms, one subscription)`,
    ['expected', 'delivered', 'lost', 'gaps in sequence', 'target', 'result', 'latency p50', 'p95', 'p99', 'max'],
    [[String(expected), String(received), String(lost), String(gaps), 'no loss', lost === 0 && gaps === 0 ? 'met' : 'NOT met', ms(percentile(latencies, 0.5)), ms(percentile(latencies, 0.95)), ms(percentile(latencies, 0.99)), ms(latencies.at(-1) ?? NaN)]],
  );
}
