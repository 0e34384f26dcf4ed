import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataType, StatusCodes, Variant, type UAObject } from 'node-opcua';
import { LadsServer } from '../../drivers/opcua/lads-server.ts';
import { OpcUaDriver, OpcUaError } from '../../drivers/opcua/client.ts';
import { PlainOpcUaModule, type PlainMapping } from '../../drivers/opcua/plain-mapping.ts';
import { PlainOpcUaModuleDriver } from '../../drivers/opcua/plain-module-driver.ts';
import { ModuleError } from '../../drivers/module.ts';
import { loadCatalogue } from '../../config/catalogue.ts';
import { USER } from '../support/lads-bioreactor.ts';

const VENDOR = 'urn:vendor:acme:reactor';
const at = (name: string) => `nsu=${VENDOR};${name}`;

/** A vendor's own object model: a reactor object with a method and variables, no LADS. */
let state = 'Idle';
let temperature = 21;

const mapping: PlainMapping = {
  capabilities: {
    culture: {
      object: [at('Reactor')],
      method: at('StartCulture'),
      arguments: [{ parameter: 'duration', type: 'Double' }, { parameter: 'temperature', type: 'Double' }],
      results: ['viability'],
    },
  },
  telemetry: { temperature: { variable: [at('Reactor'), at('Temperature')], samplingIntervalMs: 50 } },
  state: { variable: [at('Reactor'), at('PackMLState')], model: 'PackML' },
};

let server: LadsServer;
let driver: OpcUaDriver;
let clientPki: string;

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'workcell-plain-'));
  server = new LadsServer({
    port: 0,
    pkiFolder: join(dir, 'server-pki'),
    users: { [USER.name]: USER.password },
    devices: [],
    extend(addressSpace) {
      const ns = addressSpace.registerNamespace(VENDOR);
      const reactor = ns.addObject({ organizedBy: addressSpace.rootFolder.objects, browseName: 'Reactor' }) as UAObject;
      ns.addVariable({ componentOf: reactor, browseName: 'Temperature', dataType: 'Double', minimumSamplingInterval: 50, value: { get: () => new Variant({ dataType: DataType.Double, value: temperature }) } });
      ns.addVariable({ componentOf: reactor, browseName: 'PackMLState', dataType: 'String', minimumSamplingInterval: 50, value: { get: () => new Variant({ dataType: DataType.String, value: state }) } });
      const method = ns.addMethod(reactor, {
        browseName: 'StartCulture',
        inputArguments: [{ name: 'DurationHours', dataType: DataType.Double }, { name: 'Temperature', dataType: DataType.Double }],
        outputArguments: [{ name: 'Viability', dataType: DataType.Double }],
      });
      method.bindMethod(async (inputs: Variant[], _context: unknown) => {
        if ((inputs[1]!.value as number) > 39) return { statusCode: StatusCodes.BadOutOfRange };
        state = 'Execute';
        temperature = inputs[1]!.value as number;
        return { statusCode: StatusCodes.Good, outputArguments: [new Variant({ dataType: DataType.Double, value: 90 + (inputs[0]!.value as number) / 100 })] };
      });
    },
  });
  await server.start();
  clientPki = join(dir, 'client-pki');
  await server.trustClientCertificate(await OpcUaDriver.applicationCertificate(clientPki));
  await OpcUaDriver.trustServerCertificate(clientPki, await server.certificate());
  driver = await OpcUaDriver.connect({ endpoint: server.endpointUrl, pkiFolder: clientPki, user: USER });
}, 60_000);

afterAll(async () => {
  await driver?.close();
  await server?.stop();
});

describe('a module mapped onto a plain OPC UA server', () => {
  it('is driven through the module interface like any other module', async () => {
    const kind = loadCatalogue().kind('rocking-bioreactor')!;
    const plain = await PlainOpcUaModuleDriver.connect('bio-9', kind, { endpoint: server.endpointUrl, pkiFolder: clientPki, user: USER }, mapping);
    try {
      state = 'Idle';
      const states: string[] = [];
      const stop = await plain.watchState((s) => states.push(s));
      const execution = await plain.execute('culture', { duration: 2, temperature: 37 }, { idempotencyKey: 'plain-1' });
      expect(await execution.result()).toEqual({ viability: 90.02 });
      await new Promise((r) => setTimeout(r, 600));
      stop();
      expect(states).toEqual(expect.arrayContaining(['idle', 'running']));
      const refused = await (await plain.execute('culture', { duration: 2, temperature: 39.5 }, { idempotencyKey: 'plain-2' })).result().catch((e) => e);
      expect(refused).toBeInstanceOf(ModuleError);
      expect(refused.message).toMatch(/failed: BadOutOfRange/);
      await expect(plain.hold()).rejects.toThrow('the layout maps no hold method');
    } finally {
      await plain.close();
    }
  });

  it('runs a capability as the mapped method call, arguments in order and types, outputs named', async () => {
    state = 'Idle';
    const module = new PlainOpcUaModule(driver, mapping);
    expect(await module.state()).toEqual({ deviceState: 'Idle', state: 'idle' });
    expect(await module.execute('culture', { duration: 48, temperature: 37 })).toEqual({ viability: 90.48 });
    expect(await module.state()).toEqual({ deviceState: 'Execute', state: 'running' });
  });

  it('names the node and the status of a refused call', async () => {
    const module = new PlainOpcUaModule(driver, mapping);
    const error = await module.execute('culture', { duration: 48, temperature: 45 }).catch((e) => e);
    expect(error).toBeInstanceOf(OpcUaError);
    expect(error.message).toMatch(new RegExp(`^calling nsu=${VENDOR};Reactor/nsu=${VENDOR};StartCulture \\(ns=\\d+;i=\\d+\\) failed: BadOutOfRange`));
  });

  it('says where a browse path stops matching', async () => {
    const module = new PlainOpcUaModule(driver, { ...mapping, capabilities: { culture: { ...mapping.capabilities.culture!, object: [at('Reactr')] } } });
    const error = await module.execute('culture', { duration: 1, temperature: 30 }).catch((e) => e);
    expect(error.message).toBe(`no node at nsu=${VENDOR};Reactr (found Objects, but it has no child nsu=${VENDOR};Reactr)`);
  });

  it('delivers telemetry from the mapped variables', async () => {
    const module = new PlainOpcUaModule(driver, mapping);
    const values: number[] = [];
    const subscription = await module.subscribeTelemetry((channel, value) => channel === 'temperature' && values.push(value));
    await new Promise((r) => setTimeout(r, 200));
    temperature = 36.6;
    await new Promise((r) => setTimeout(r, 400));
    await subscription.close();
    expect(values).toContain(36.6);
  });
});
