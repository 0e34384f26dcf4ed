import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.ts';
import { startTestBench, TEST_BENCH_FDL, type TestBench } from '../support/test-bench-server.ts';
import type { SilaAnnouncement } from '../../drivers/sila2/discovery.ts';

let bench: TestBench;
let caFile: string;
let target: string;
let announcement: SilaAnnouncement;

beforeAll(async () => {
  bench = await startTestBench();
  announcement = await bench.server.announce({ kind: 'unicast', host: '127.0.0.1', port: 0 });
  caFile = join(mkdtempSync(join(tmpdir(), 'workcell-sila-')), 'ca.pem');
  writeFileSync(caFile, bench.server.certificatePem!);
  target = `127.0.0.1:${bench.server.port}`;
});

afterAll(async () => {
  await announcement?.close();
  await bench?.server.stop();
});

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
