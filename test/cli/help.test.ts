/** Help, usage errors and the reference page, all from the command definitions themselves. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliReference } from '../../cli/docs.ts';
import { workcellProgram } from '../../cli/program.ts';
import { ROLE_CHOICES } from '../../cli/define-records.ts';
import { ROLES } from '../../orchestrator/signatures.ts';
import { commandPath, everyCommand } from '../../cli/usage.ts';
import { REPO_ROOT, runCli } from '../support/cli.ts';

const program = workcellProgram();
const commandNamed = (path: string) => everyCommand(workcellProgram()).find((c) => commandPath(c) === `workcell ${path}`)!;

describe('workcell help', () => {
  it('lists every command; `workcell` alone exits 2, help and --help exit 0', async () => {
    const alone = await runCli([]);
    expect(alone.status).toBe(2);
    for (const args of [['help'], ['--help'], ['-h']]) {
      const result = await runCli(args);
      expect(result.status).toBe(0);
      expect(result.stdout).toBe(alone.stdout);
    }
    for (const name of ['demo', 'run', 'resume', 'status', 'holds', 'resolve', 'hold', 'module', 'remove', 'review', 'operators', 'record', 'publish', 'mirror', 'verify', 'validate', 'summary', 'sila', 'opcua', 'sim', 'completion']) {
      expect(alone.stdout).toMatch(new RegExp(`^  ${name} `, 'm'));
    }
    expect(alone.stdout).toContain('WORKCELL_PASSWORD');
    expect(alone.stdout).not.toMatch(/^ {2}docs /m);
  });

  it('workcell help CMD and CMD --help print the same help, naming every option of the command', async () => {
    const helpOf = new Map<string, string>();
    for (const path of ['run', 'resolve', 'sila call', 'operators add']) {
      const viaFlag = await runCli([...path.split(' '), '--help']);
      helpOf.set(path, viaFlag.stdout);
      const words = path.split(' ');
      const viaHelp = await runCli([...words.slice(0, -1), 'help', words.at(-1)!]);
      expect(viaFlag.status).toBe(0);
      expect(viaFlag.stdout).toMatch(new RegExp(`^Usage: workcell ${path} `));
      for (const option of commandNamed(path).options) expect(viaFlag.stdout).toContain(option.long!);
      expect(viaHelp.status).toBe(0);
      expect(viaHelp.stdout).toBe(viaFlag.stdout);
      expect((await runCli(['help', ...words])).stdout).toBe(viaFlag.stdout);
    }
    const run = helpOf.get('run')!;
    expect(run).toMatch(/--time-scale <N> +simulated seconds per wall-clock second .*\(default: 1\)/s);
    expect(run).toMatch(/--batch <ID\[:LANE\]>[^]*\(repeatable\)/);
  });

  it('says what is wrong in one line with the usage line and where the options are, exit 2, no stack trace', async () => {
    const cases: Array<[string[], string]> = [
      [['frob'], "workcell: unknown command 'frob'"],
      [['help', 'frob'], "workcell: unknown command 'frob'"],
      [['run', 'layouts/two-lane.yaml', '--schedul', 'x'], 'workcell run: unknown option --schedul (did you mean --schedule?)'],
      [['status', '--db'], 'workcell status: --db needs a value'],
      [['status', '--json=yes'], 'workcell status: --json takes no value'],
      [['record'], 'workcell record: name one batch'],
      [['record', 'P-001', 'P-002'], 'workcell record: name one batch'],
      [['resume', 'extra'], "workcell resume: unexpected argument 'extra'"],
      [['sila', 'frob'], "workcell sila: unknown sila command 'frob'"],
      [['operators', 'add', 'x', '--role', 'qa'], 'workcell operators add: --name "PRINTED NAME" is required: signatures show it'],
    ];
    for (const [args, message] of cases) {
      const result = await runCli(args);
      expect(result.status, args.join(' ')).toBe(2);
      const lines = result.stderr.trimEnd().split('\n');
      expect(lines[0]).toBe(message);
      expect(lines[1]).toMatch(/^usage: workcell /);
      expect(lines[2]).toMatch(/^Run 'workcell .*--help' for every option\.$/);
      expect(result.stderr).not.toMatch(/\n\s+at /);
    }
  });

  it('keeps repeated options repeating and a bare --lock taking its default', () => {
    const add = commandNamed('operators add');
    add.parseOptions(['--role', 'qa', '--role', 'admin']);
    expect(add.opts().role).toEqual(['qa', 'admin']);
    const call = commandNamed('sila call');
    const parsed = call.parseOptions(['--lock', 'TestBench', 'Echo']);
    expect(call.opts().lock).toBe('60');
    expect(parsed.operands).toEqual(['TestBench', 'Echo']);
  });

  it('offers the roles the signatures know', () => {
    expect([...ROLE_CHOICES]).toEqual([...ROLES]);
  });
});

describe('docs/cli.md', () => {
  it('is what `npm run docs:cli` writes from the commands (run it after changing a command)', () => {
    expect(readFileSync(join(REPO_ROOT, 'docs/cli.md'), 'utf8')).toBe(cliReference(program));
  });

  it('has a section for every visible command', () => {
    const page = cliReference(program);
    for (const path of ['demo', 'sila call', 'operators passwd', 'opcua browse', 'completion']) expect(page).toContain(`\`workcell ${path}\``);
    expect(page).not.toContain('`workcell docs`');
  });
});

describe('workcell schema', () => {
  it('prints the published entry schemas, the same as docs/records/entries.schema.json, and refuses another topic', async () => {
    const printed = await runCli(['schema', 'entries']);
    expect(printed.status).toBe(0);
    expect(printed.stdout).toBe(readFileSync(join(REPO_ROOT, 'docs/records/entries.schema.json'), 'utf8'));
    const document = JSON.parse(printed.stdout) as { $defs: Record<string, { description?: string }> };
    expect(document.$defs['step.completed']?.description).toMatch(/finished/);
    const refused = await runCli(['schema', 'layouts']);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toContain("no schema 'layouts': entries");
  });
});
