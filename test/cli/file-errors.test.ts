/** A file the CLI cannot read is named in the error, in words, with no stack trace. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'workcell-files-'));
const missing = (name: string) => join(dir, name);

describe('files the CLI cannot read', () => {
  it.each([
    ['a CA file', ['sila', 'browse', '127.0.0.1:1', '--ca', missing('ca.pem')], `cannot open ${missing('ca.pem')}: no such file`],
    ['a feature definition', ['sila', 'proto', missing('Thing-v1_0.sila.xml')], `cannot open ${missing('Thing-v1_0.sila.xml')}: no such file`],
    ['a password file', ['opcua', 'browse', 'opc.tcp://127.0.0.1:1', '--user', 'u', '--password-file', missing('password.txt')], `cannot open ${missing('password.txt')}: no such file`],
    ['a layout', ['run', missing('layout.yaml'), '--schedule', 'schedules/demo.yaml', '--patients', '1', '--sim'], `cannot read ${missing('layout.yaml')}: no such file`],
    ['a schedule', ['validate', 'layouts/two-lane.yaml', missing('schedule.yaml')], `cannot read ${missing('schedule.yaml')}: no such file`],
    ['a faults file', ['sim', 'layouts/two-lane.yaml', '--faults', missing('faults.yaml')], `cannot read ${missing('faults.yaml')}: no such file`],
  ])('%s', async (_what, args, message) => {
    const result = await runCli(args);
    expect(`${result.stdout}${result.stderr}`).toContain(message);
    expect(result.stderr).not.toContain('ENOENT');
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(result.status).toBe(1);
  });

  it.each([['status'], ['holds'], ['record', 'P-001'], ['resume']])('workcell %s --db in a directory that does not exist names that directory', async (...command) => {
    const db = join(dir, 'no', 'such', 'dir', 'x.db');
    const result = await runCli([...command, '--db', db]);
    expect(result.stderr).toContain(`no database ${db}: no directory ${dirname(db)}`);
    expect(result.status).toBe(1);
  });

  it('workcell run --db in a directory that does not exist names that directory', async () => {
    const db = join(dir, 'nowhere', 'x.db');
    const result = await runCli(['run', 'layouts/two-lane.yaml', '--schedule', 'schedules/demo.yaml', '--patients', '1', '--sim', '--db', db]);
    expect(result.stderr).toContain(`no directory ${join(dir, 'nowhere')}`);
    expect(result.stderr).toContain(db);
    expect(result.status).toBe(1);
  });
});
