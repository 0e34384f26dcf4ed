import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OpcUaDriver, OpcUaError, UntrustedServerError, type SensorSample } from '../../drivers/opcua/client.ts';
import { startBioreactor, UNIT, USER, type LadsFixture } from '../support/lads-bioreactor.ts';

let fixture: LadsFixture;
let driver: OpcUaDriver;

beforeAll(async () => {
  fixture = await startBioreactor();
  driver = await fixture.connect();
}, 60_000);

afterAll(async () => {
  await driver?.close();
  await fixture?.server.stop();
});

describe('the LADS driver', () => {
  it('finds devices under the DI DeviceSet with identity, health and functional units', async () => {
    const [device, ...others] = await driver.devices();
    expect(others).toEqual([]);
    expect(device).toMatchObject({
      name: 'Bioreactor1',
      identity: { manufacturer: 'Cytiva', model: 'Xuri W25', serialNumber: 'XW25-3310', softwareRevision: '2.1.4' },
      health: 0,
    });
    expect(device!.functionalUnits).toEqual([
      expect.objectContaining({ name: 'Culture', ladsState: 'Stopped', state: 'idle', programTemplates: ['culture', 'sample'] }),
    ]);
    expect(device!.functionalUnits[0]!.sensors).toEqual([
      { name: 'Temperature', unit: 'degC', value: 36.5 },
      { name: 'pH', unit: '1', value: expect.closeTo(7.2, 5) },
    ]);
  });

  it('runs a program from StartProgram to its result, with progress on the way', async () => {
    const run = await driver.startProgram(UNIT, { templateId: 'culture', properties: { Seconds: '1' }, supervisoryJobId: 'P-001', supervisoryTaskId: 'expand' });
    expect(run.runId).toMatch(/^[0-9a-f-]{36}$/);
    expect(await driver.state(UNIT)).toEqual({ ladsState: 'Running', state: 'running' });
    await new Promise((r) => setTimeout(r, 400));
    const progress = await driver.progress(UNIT);
    expect(progress).toMatchObject({ runId: run.runId, ladsState: 'Running', estimatedRuntimeMs: 1000 });
    expect(progress.currentRuntimeMs).toBeGreaterThan(200);
    expect(['heat-up', 'grow']).toContain(progress.stepName);
    const outcome = await run.outcome;
    expect(outcome).toMatchObject({ runId: run.runId, supervisoryJobId: 'P-001', supervisoryTaskId: 'expand', values: { Viability: 94.5, CellDensity: 2.4e6, FoldExpansion: 12 } });
    expect(outcome.stopped!.getTime()).toBeGreaterThan(outcome.started!.getTime());
    expect(await driver.state(UNIT)).toEqual({ ladsState: 'Stopped', state: 'idle' });
  });

  it('refuses a second program while one runs, naming the method and the status', async () => {
    const run = await driver.startProgram(UNIT, { templateId: 'culture', properties: { Seconds: '0.5' }, supervisoryJobId: 'P-002', supervisoryTaskId: 'expand' });
    const second = await driver.startProgram(UNIT, { templateId: 'culture', supervisoryJobId: 'P-003', supervisoryTaskId: 'expand' }).catch((e) => e);
    expect(second).toBeInstanceOf(OpcUaError);
    expect(second.message).toMatch(/^startProgram on Bioreactor1\/Culture \(method ns=\d+;i=\d+\) was refused: BadInvalidState/);
    await run.outcome;
  });

  it('aborts a running program and clears the unit back to Stopped', async () => {
    const states: string[] = [];
    const watch = await driver.watchState(UNIT, (s) => states.push(s.state));
    const run = await driver.startProgram(UNIT, { templateId: 'culture', properties: { Seconds: '30' }, supervisoryJobId: 'P-004', supervisoryTaskId: 'expand' });
    await new Promise((r) => setTimeout(r, 200));
    await driver.abort(UNIT);
    const outcome = await run.outcome;
    expect(outcome.description).toBe('culture: aborted');
    expect(await driver.state(UNIT)).toEqual({ ladsState: 'Aborted', state: 'aborted' });
    await driver.clear(UNIT);
    await new Promise((r) => setTimeout(r, 300));
    expect(await driver.state(UNIT)).toEqual({ ladsState: 'Stopped', state: 'idle' });
    await watch.close();
    expect(states).toEqual(expect.arrayContaining(['running', 'aborted', 'idle']));
  });

  it('stops a running program early, and starts the default operation with Start', async () => {
    const run = await driver.startProgram(UNIT, { templateId: 'culture', properties: { Seconds: '30' }, supervisoryJobId: 'P-007', supervisoryTaskId: 'expand' });
    await new Promise((r) => setTimeout(r, 150));
    await driver.stop(UNIT);
    expect((await run.outcome).description).toBe('culture: stopped');
    expect(await driver.state(UNIT)).toEqual({ ladsState: 'Stopped', state: 'idle' });
    await driver.start(UNIT);
    expect(await driver.state(UNIT)).toEqual({ ladsState: 'Running', state: 'running' });
    const { runId } = await driver.progress(UNIT);
    expect((await driver.follow(UNIT, runId)).description).toBe('culture: completed');
  });

  it('delivers sensor values through a subscription', async () => {
    const samples: SensorSample[] = [];
    const subscription = await driver.subscribeSensors(UNIT, (s) => samples.push(s), 50);
    const run = await driver.startProgram(UNIT, { templateId: 'culture', properties: { Seconds: '0.6' }, supervisoryJobId: 'P-005', supervisoryTaskId: 'expand' });
    await run.outcome;
    await new Promise((r) => setTimeout(r, 300));
    await subscription.close();
    const temperatures = samples.filter((s) => s.sensor === 'Temperature');
    expect(temperatures.length).toBeGreaterThan(3);
    expect(temperatures.at(-1)).toMatchObject({ unit: 'degC', value: 37 });
    expect(samples.some((s) => s.sensor === 'pH')).toBe(true);
  });
});

describe('connection security', () => {
  it('refuses a server certificate that is not in the trust list, saying how to trust it', async () => {
    const untrusted = await startBioreactor({ trust: false });
    try {
      const error = await untrusted.connect().catch((e) => e);
      expect(error).toBeInstanceOf(UntrustedServerError);
      expect(error.message).toMatch(/is not trusted; it was stored in .*rejected\. To trust it, move it to .*trusted\/certs/);
    } finally {
      await untrusted.server.stop();
    }
  }, 60_000);

  it('says plainly when the endpoint cannot be reached', async () => {
    const error = await fixture.connect({ endpoint: 'opc.tcp://127.0.0.1:9' }).catch((e) => e);
    expect(error).toBeInstanceOf(OpcUaError);
    expect(error.message).toMatch(/^cannot (reach|connect to) opc\.tcp:\/\/127\.0\.0\.1:9/);
  }, 60_000);

  it('refuses a wrong password', async () => {
    const error = await fixture.connect({ user: { name: USER.name, password: 'wrong' } }).catch((e) => e);
    expect(error).toBeInstanceOf(OpcUaError);
    expect(error.message).toBe(`the server refused user '${USER.name}': wrong user name or password`);
  });

  it('refuses anonymous sessions', async () => {
    const error = await fixture.connect({ user: undefined }).catch((e) => e);
    expect(error.message).toMatch(/refuses anonymous sessions/);
  });

  it('refuses security mode None unless it is allowed explicitly', async () => {
    const local = await fixture.connect({ securityMode: 'None' }).catch((e) => e);
    expect(local.message).toMatch(/^refusing security mode None for .*: it neither signs nor encrypts/);
    const notOffered = await fixture.connect({ securityMode: 'None', allowInsecure: true }).catch((e) => e);
    expect(notOffered).toBeInstanceOf(OpcUaError);
    const open = await startBioreactor({ allowNone: true });
    try {
      const insecure = await open.connect({ securityMode: 'None', allowInsecure: true });
      expect((await insecure.devices())[0]!.name).toBe('Bioreactor1');
      await insecure.close();
    } finally {
      await open.server.stop();
    }
  }, 60_000);

  it('also connects with Sign and with the Aes128_Sha256_RsaOaep policy', async () => {
    for (const options of [{ securityMode: 'Sign' as const }, { securityPolicy: 'Aes128_Sha256_RsaOaep' as const }]) {
      const other = await fixture.connect(options);
      expect(await other.state(UNIT)).toMatchObject({ state: expect.any(String) });
      await other.close();
    }
  });
});

describe('devices that use LADS differently', () => {
  it('match results without the optional DeviceProgramRunId on the supervisory ids, and read state names that are localized', async () => {
    const other = await startBioreactor({ resultsWithoutRunId: true, stateTexts: { Running: 'Läuft', Stopped: 'Angehalten' } });
    const localized = await other.connect();
    try {
      expect(await localized.state(UNIT)).toEqual({ ladsState: 'Stopped', state: 'idle' });
      const first = await localized.startProgram(UNIT, { templateId: 'culture', properties: { Seconds: '0.3' }, supervisoryJobId: 'P-010', supervisoryTaskId: 'expand' });
      expect(await localized.state(UNIT)).toEqual({ ladsState: 'Running', state: 'running' });
      expect((await first.outcome).supervisoryJobId).toBe('P-010');
      const second = await localized.startProgram(UNIT, { templateId: 'culture', properties: { Seconds: '0.3' }, supervisoryJobId: 'P-011', supervisoryTaskId: 'expand' });
      const outcome = await second.outcome;
      expect(outcome).toMatchObject({ runId: second.runId, supervisoryJobId: 'P-011' });
    } finally {
      await localized.close();
      await other.server.stop();
    }
  }, 60_000);
});

describe('reconnection', () => {
  it('resumes subscriptions after the server restarts and reports a completion that happened meanwhile exactly once', async () => {
    const restartable = await startBioreactor();
    const resilient = await restartable.connect();
    try {
      const samples: SensorSample[] = [];
      await resilient.subscribeSensors(UNIT, (s) => samples.push(s), 50);
      const run = await resilient.startProgram(UNIT, { templateId: 'culture', properties: { Seconds: '1.5' }, supervisoryJobId: 'P-006', supervisoryTaskId: 'expand' });
      let completions = 0;
      const counted = run.outcome.then((o) => {
        completions++;
        return o;
      });
      await new Promise((r) => setTimeout(r, 300));
      // the device keeps running while its endpoint is down for longer than the program has left
      await restartable.server.restart(1800);
      const seenBefore = samples.length;
      const outcome = await counted;
      expect(outcome.values.Viability).toBe(94.5);
      // values keep arriving on the re-created subscription
      restartable.server.unit('Bioreactor1', 'Culture').sensors.set('Temperature', 40);
      restartable.server.unit('Bioreactor1', 'Culture').notify();
      await new Promise((r) => setTimeout(r, 1500));
      expect(samples.slice(seenBefore).some((s) => s.sensor === 'Temperature' && s.value === 40)).toBe(true);
      // following the same run again reports the same single result, not a second completion
      expect((await resilient.follow(UNIT, run.runId)).runId).toBe(run.runId);
      expect(completions).toBe(1);
    } finally {
      await resilient.close();
      await restartable.server.stop();
    }
  }, 90_000);
});
