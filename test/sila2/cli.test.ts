import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.ts';
import { startTestBench, TEST_BENCH_FDL, type TestBench } from '../support/test-bench-server.ts';
import type { SilaAnnouncement } from '../../drivers/sila2/discovery.ts';
import { SilaClient } from '../../drivers/sila2/client.ts';
import { CORE_FEATURES } from '../../drivers/sila2/core/features.ts';
import { ScaledClock } from '../../drivers/clock.ts';
import { loadCatalogue } from '../../config/catalogue.ts';
import { SilaModuleSimulator } from '../../modules/simulators/sila-simulator.ts';
import { SimulationWorld } from '../../modules/simulators/world.ts';

let bench: TestBench;
let caFile: string;
let target: string;
let announcement: SilaAnnouncement;
/** A test bench that also serves the core features, its lock protecting Secret and CountTo. */
let core: TestBench;
let coreTarget: string;
let coreCaFile: string;
const BENCH = 'dev.workcell/tests/TestBench/v1';

beforeAll(async () => {
  bench = await startTestBench();
  announcement = await bench.server.announce({ kind: 'unicast', host: '127.0.0.1', port: 0 });
  caFile = join(mkdtempSync(join(tmpdir(), 'workcell-sila-')), 'ca.pem');
  writeFileSync(caFile, bench.server.certificatePem!);
  target = `127.0.0.1:${bench.server.port}`;
  core = await startTestBench({
    coreFeatures: {
      lockController: { protects: [`${BENCH}/Command/Secret`, `${BENCH}/Command/CountTo`] },
      cancelController: true,
      pauseController: true,
      simulationController: { simulationMode: true, realModeAvailable: false },
      errorRecoveryService: true,
    },
  });
  coreCaFile = join(dirname(caFile), 'core-ca.pem');
  writeFileSync(coreCaFile, core.server.certificatePem!);
  coreTarget = `127.0.0.1:${core.server.port}`;
});

afterAll(async () => {
  await announcement?.close();
  await bench?.server.stop();
  await core?.server.stop();
});

const coreClient = () => SilaClient.connect({ host: '127.0.0.1', port: core.server.port, ca: core.server.certificatePem });

describe('workcell sila', () => {
  it('browse prints the identity and every feature with types', async () => {
    const result = await runCli(['sila', 'browse', target, '--ca', caFile]);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toContain(`UUID         ${bench.server.identity.uuid}`);
    expect(result.stdout).toContain('Feature dev.workcell/tests/TestBench/v1: Test Bench');
    expect(result.stdout).toContain('  Command CountTo (observable)\n    parameter     Target: Integer');
    expect(result.stdout).toContain('    intermediate  Current: Integer');
    expect(result.stdout).toContain('  Property Counter: Integer (observable)');
    expect(result.stdout).toContain('  Metadata AccessToken: String');
  });

  it('call converts parameters to their SiLA types and prints the result', async () => {
    const result = await runCli(['sila', 'call', target, 'TestBench', 'SetTemperature', '--param', 'Temperature=21.5', '--param', 'SampleCode=AB1234', '--param', 'Mode=cool', '--param', 'Readings=[1,2]', '--ca', caFile]);
    expect(result.stdout.trim()).toBe('{"Accepted":21.5}');
    expect(result.status).toBe(0);
  });

  it('call follows an observable command with its intermediate responses', async () => {
    // SiLA 2 does not replay intermediate responses sent before the client subscribed, so the first
    // one must come well after the CLI has had time to subscribe on a loaded CI machine.
    const result = await runCli(['sila', 'call', target, 'dev.workcell/tests/TestBench/v1', 'CountTo', '--param', 'Target=3', '--param', 'Interval=0.4', '--param', 'FailAt=0', '--ca', caFile]);
    expect(result.status).toBe(0);
    const lines = result.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^execution [0-9a-f-]{36}$/);
    expect(lines.filter((l) => l.startsWith('intermediate'))).toEqual(['intermediate {"Current":1}', 'intermediate {"Current":2}', 'intermediate {"Current":3}']);
    expect(lines.at(-1)).toBe('{"Total":6}');
  });

  it('call prints a typed error and exits 1', async () => {
    const defined = await runCli(['sila', 'call', target, 'TestBench', 'Fail', '--param', 'How=defined', '--ca', caFile]);
    expect(defined.status).toBe(1);
    expect(defined.stderr.trim()).toBe('DefinedExecutionError dev.workcell/tests/TestBench/v1/DefinedExecutionError/DoorOpen: the door of the test bench is open');
    const invalid = await runCli(['sila', 'call', target, 'TestBench', 'SetTemperature', '--param', 'Temperature=99', '--param', 'SampleCode=AB1234', '--param', 'Mode=cool', '--param', 'Readings=[1]', '--ca', caFile]);
    expect(invalid.status).toBe(1);
    expect(invalid.stderr).toMatch(/^ValidationError dev\.workcell\/tests\/TestBench\/v1\/Command\/SetTemperature\/Parameter\/Temperature: parameter Temperature: 99 is not at most 37/);
  });

  it('refuses plain text to a TLS server and an untrusted certificate, with the fix in the message', async () => {
    const plain = await runCli(['sila', 'browse', target, '--insecure']);
    expect(plain.status).toBe(1);
    expect(plain.stderr).toMatch(/requires TLS; refusing to talk plain text to it/);
    const untrusted = await runCli(['sila', 'browse', target]);
    expect(untrusted.status).toBe(1);
    expect(untrusted.stderr).toMatch(/is not trusted .* Pass the server's CA certificate \(--ca FILE\)/);
  });

  it('trusts a CA published by discovery only when asked to', async () => {
    const result = await runCli(['sila', 'browse', target, '--trust-discovered-ca', '--discovery-unicast', `127.0.0.1:${announcement.address.port}`]);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('Server       Test bench');
  });

  it('discover lists announced servers', async () => {
    const result = await runCli(['sila', 'discover', '--timeout', '300', '--discovery-unicast', `127.0.0.1:${announcement.address.port}`]);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain(`${target}  Test bench  (${bench.server.identity.uuid}, version 1.0.0)  publishes a CA`);
  });

  it('proto prints the protobuf of a feature definition', async () => {
    const result = await runCli(['sila', 'proto', TEST_BENCH_FDL]);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('service TestBench {');
  });

  it('says what is wrong with its arguments', async () => {
    const result = await runCli(['sila', 'call', target, 'TestBench', 'Echo', '--ca', caFile]);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/missing --param Value=VALUE \(Everything\)/);
  });
});

describe('workcell sila and the core features', () => {
  it('browse names the core features a server implements and each constraint with its values', async () => {
    const result = await runCli(['sila', 'browse', coreTarget, '--ca', coreCaFile]);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('Core features  SiLAService, LockController, CancelController, PauseController, SimulationController, ErrorRecoveryService\n');
    expect(result.stdout).toContain('Not offered    AuthenticationService, AuthorizationService, ParameterConstraintsProvider\n');
    expect(result.stdout).toContain('    parameter     Temperature: Real [minimalInclusive 4, maximalInclusive 37, unit degC]\n');
    expect(result.stdout).toContain("    parameter     SampleCode: String [maximalLength 6, pattern '[A-Z]{2}[0-9]{4}']\n");
    expect(result.stdout).toContain("    parameter     Mode: String [set {'heat', 'cool'}]\n");
    expect(result.stdout).toContain('    parameter     Readings: List<Integer> [minimalElementCount 1, maximalElementCount 3]\n');
    expect(result.stdout).toContain(`  Metadata AccessToken: String\n    affects       ${BENCH}/Command/Secret\n`);
    expect(result.stdout).toContain(`  Metadata LockIdentifier: String\n    affects       ${BENCH}/Command/Secret, ${BENCH}/Command/CountTo\n`);
    expect(result.stdout).toContain('Feature org.silastandard/core.commands/CancelController/v1: Cancel Controller');
    // a server without them names only SiLAService
    const plain = await runCli(['sila', 'browse', target, '--ca', caFile]);
    expect(plain.stdout).toContain('Core features  SiLAService\n');
  });

  it('call sends --metadata by identifier or fully qualified identifier, and says which metadata a call needs', async () => {
    const short = await runCli(['sila', 'call', target, 'TestBench', 'Secret', '--metadata', 'AccessToken=operator-7', '--ca', caFile]);
    expect(short.stdout.trim()).toBe('{"Caller":"operator-7"}');
    expect(short.status).toBe(0);
    const qualified = await runCli(['sila', 'call', target, 'TestBench', 'Secret', '--metadata', `${BENCH}/Metadata/AccessToken=operator-8`, '--ca', caFile]);
    expect(qualified.stdout.trim()).toBe('{"Caller":"operator-8"}');
    const missing = await runCli(['sila', 'call', target, 'TestBench', 'Secret', '--ca', caFile]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain('Secret needs metadata AccessToken (String): pass --metadata AccessToken=VALUE');
    const unknown = await runCli(['sila', 'call', target, 'TestBench', 'Secret', '--metadata', 'Badge=1', '--ca', caFile]);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain("the server defines no metadata 'Badge'; it defines AccessToken");
    const notForIt = await runCli(['sila', 'call', target, 'TestBench', 'Fail', '--param', 'How=defined', '--metadata', 'AccessToken=x', '--ca', caFile]);
    expect(notForIt.stderr).toContain('note: metadata AccessToken does not affect TestBench Fail, so it is not sent');
  });

  it('call --lock locks the server for the call and unlocks it after', async () => {
    const watcher = await coreClient();
    try {
      const running = runCli(['sila', 'call', coreTarget, 'TestBench', 'CountTo', '--param', 'Target=3', '--param', 'Interval=0.5', '--param', 'FailAt=0', '--lock', '20', '--ca', coreCaFile]);
      let lockedDuringCall = false;
      const deadline = Date.now() + 20_000;
      while (!lockedDuringCall && Date.now() < deadline) {
        lockedDuringCall = (await watcher.get(CORE_FEATURES.LockController, 'IsLocked')) as boolean;
        if (!lockedDuringCall) await new Promise((r) => setTimeout(r, 50));
      }
      const result = await running;
      expect(result.stderr).toBe('');
      expect(result.status).toBe(0);
      expect(result.stdout.trim().split('\n').at(-1)).toBe('{"Total":6}');
      expect(lockedDuringCall).toBe(true);
      expect(await watcher.get(CORE_FEATURES.LockController, 'IsLocked')).toBe(false);
      // a bare --lock takes the default timeout
      const bare = await runCli(['sila', 'call', coreTarget, 'TestBench', 'Secret', '--metadata', 'AccessToken=a', '--lock', '--ca', coreCaFile]);
      expect(bare.stdout.trim()).toBe('{"Caller":"a"}');
    } finally {
      watcher.close();
    }
  });

  it('call is refused while another client holds the lock, with the standard errors', async () => {
    const holder = await coreClient();
    const lock = await holder.lock({ timeoutSeconds: 30 });
    try {
      const without = await runCli(['sila', 'call', coreTarget, 'TestBench', 'Secret', '--metadata', 'AccessToken=a', '--ca', coreCaFile]);
      expect(without.status).toBe(1);
      expect(without.stderr).toMatch(/^FrameworkError INVALID_METADATA: this call requires metadata org\.silastandard\/core\/LockController\/v1\/Metadata\/LockIdentifier/);
      const withLock = await runCli(['sila', 'call', coreTarget, 'TestBench', 'Secret', '--metadata', 'AccessToken=a', '--lock', '5', '--ca', coreCaFile]);
      expect(withLock.status).toBe(1);
      expect(withLock.stderr).toMatch(/^DefinedExecutionError org\.silastandard\/core\/LockController\/v1\/DefinedExecutionError\/ServerAlreadyLocked: /);
      // calls the lock does not protect still work
      const free = await runCli(['sila', 'call', coreTarget, 'TestBench', 'SetTemperature', '--param', 'Temperature=20', '--param', 'SampleCode=AB1234', '--param', 'Mode=heat', '--param', 'Readings=[1]', '--ca', coreCaFile]);
      expect(free.stdout.trim()).toBe('{"Accepted":20}');
    } finally {
      await lock.release();
      holder.close();
    }
  });

  it("call supplies the IdempotencyKey of Workcell's module features itself", async () => {
    const world = new SimulationWorld();
    world.introduce({ id: 'BAG-CLI', container: 'bag', position: 'sep-9.port', material: { cells: 4e9, viability: 92, volumeMl: 40 } });
    const simulator = await new SilaModuleSimulator({ moduleId: 'sep-9', kind: loadCatalogue().kind('cell-separator')!, world, clock: new ScaledClock(36_000), seed: 1 }).start();
    try {
      const ca = join(dirname(caFile), 'sep-9-ca.pem');
      writeFileSync(ca, simulator.server.certificatePem!);
      const args = ['--param', 'ItemId=BAG-CLI', '--param', 'InputVolume=40', '--param', 'TargetVolume=20', '--param', 'WashBuffer=PBS-EDTA', '--param', 'Cycles=2', '--ca', ca];
      const result = await runCli(['sila', 'call', `127.0.0.1:${simulator.port}`, 'CellSeparator', 'Wash', ...args]);
      expect(result.stderr).toBe('');
      expect(result.status).toBe(0);
      const lines = result.stdout.trim().split('\n');
      expect(lines[0]).toMatch(/^idempotency key [0-9a-f-]{36}$/);
      expect(lines[1]).toMatch(/^execution [0-9a-f-]{36}$/);
      expect(JSON.parse(lines.at(-1)!)).toMatchObject({ OutputVolume: 20 });
      // a key of one's own is sent as given, and a second call with it returns the same execution
      const key = 'operator-chosen-key-1';
      const first = await runCli(['sila', 'call', `127.0.0.1:${simulator.port}`, 'CellSeparator', 'Wash', '--metadata', `IdempotencyKey=${key}`, ...args]);
      const again = await runCli(['sila', 'call', `127.0.0.1:${simulator.port}`, 'CellSeparator', 'Wash', '--metadata', `IdempotencyKey=${key}`, ...args]);
      expect(first.stdout).not.toContain('idempotency key');
      expect(again.stdout.split('\n')[0]).toBe(first.stdout.split('\n')[0]);
      expect(simulator.executions).toBe(2);
    } finally {
      await simulator.stop();
    }
  });
});
