/** A simulated LADS bioreactor for the OPC UA tests: one culture unit with a program that takes `Seconds`. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LadsServer, type FunctionalUnitSpec } from '../../drivers/opcua/lads-server.ts';
import { OpcUaDriver } from '../../drivers/opcua/client.ts';

export const USER = { name: 'operator', password: 'correct horse battery staple' };
export const UNIT = 'Bioreactor1/Culture';

export const cultureUnit: FunctionalUnitSpec = {
  name: 'Culture',
  programTemplates: [
    { id: 'culture', description: 'Expansion at set-points' },
    { id: 'sample', description: 'Draw a sample' },
  ],
  sensors: [
    { name: 'Temperature', unit: 'degC', initial: 36.5 },
    { name: 'pH', unit: '1', initial: 7.2 },
  ],
  estimatedRuntimeSeconds: (_template, properties) => Number(properties.Seconds ?? 1),
  async run(context) {
    const seconds = Number(context.properties.Seconds ?? 1);
    const steps = Math.max(1, Math.round(seconds / 0.05));
    for (let i = 1; i <= steps; i++) {
      if (context.signal.aborted) throw new Error('stopped');
      context.step(i < steps / 2 ? 'heat-up' : 'grow', i);
      context.sensor('Temperature', 36.5 + (0.5 * i) / steps);
      await new Promise((r) => setTimeout(r, (seconds * 1000) / steps));
    }
    return { Viability: 94.5, CellDensity: 2.4e6, FoldExpansion: 12 };
  },
};

export interface LadsFixture {
  server: LadsServer;
  clientPki: string;
  connect(overrides?: Partial<Parameters<typeof OpcUaDriver.connect>[0]>): Promise<OpcUaDriver>;
}

/** A server and a client PKI that trust each other, as an engineer would set them up. */
export async function startBioreactor(options: { allowNone?: boolean; trust?: boolean; resultsWithoutRunId?: boolean; stateTexts?: Record<string, string> } = {}): Promise<LadsFixture> {
  const dir = mkdtempSync(join(tmpdir(), 'workcell-lads-'));
  const server = new LadsServer({
    port: 0,
    pkiFolder: join(dir, 'server-pki'),
    users: { [USER.name]: USER.password },
    allowNone: options.allowNone,
    resultsWithoutRunId: options.resultsWithoutRunId,
    stateTexts: options.stateTexts,
    devices: [{ name: 'Bioreactor1', manufacturer: 'Cytiva', model: 'Xuri W25', serialNumber: 'XW25-3310', softwareRevision: '2.1.4', functionalUnits: [cultureUnit] }],
  });
  await server.start();
  const clientPki = join(dir, 'client-pki');
  if (options.trust !== false) {
    await server.trustClientCertificate(await OpcUaDriver.applicationCertificate(clientPki));
    await OpcUaDriver.trustServerCertificate(clientPki, await server.certificate());
  }
  return {
    server,
    clientPki,
    connect: (overrides = {}) => OpcUaDriver.connect({ endpoint: server.endpointUrl, pkiFolder: clientPki, user: USER, ...overrides }),
  };
}
