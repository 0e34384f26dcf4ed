/** `workcell completion bash|zsh`: scripts from the command definitions, tried in the shells themselves. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, runCli } from '../support/cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'workcell-completion-'));
const hasShell = (shell: string) => spawnSync(shell, ['-c', 'true']).status === 0;

describe('workcell completion bash', () => {
  const script = join(dir, 'workcell.bash');
  beforeAll(async () => {
    const result = await runCli(['completion', 'bash']);
    expect(result.status).toBe(0);
    writeFileSync(script, result.stdout);
  });

  /** What bash offers after the words (the last one is the word being completed), as `complete -F` would ask. */
  function offered(...words: string[]): string[] {
    const assign = `COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}`;
    const result = spawnSync('bash', ['--norc', '-c', `source '${script}'; ${assign}; _workcell; printf '%s\\n' "\${COMPREPLY[@]}"`], { cwd: REPO_ROOT, encoding: 'utf8' });
    expect(result.stderr).toBe('');
    return result.stdout.split('\n').filter(Boolean).sort();
  }

  it('completes commands, subcommands, options, listed values and files', (ctx) => {
    if (!hasShell('bash')) ctx.skip('bash is not installed');
    expect(offered('workcell', 're')).toEqual(['record', 'remove', 'resolve', 'resume', 'review']);
    expect(offered('workcell', 'run', '--sc')).toEqual(['--schedule']);
    expect(offered('workcell', 'run', 'layouts/two-lane.yaml', '--d')).toEqual(['--db']);
    expect(offered('workcell', 'sila', '')).toEqual(['browse', 'call', 'discover', 'features', 'help', 'proto']);
    expect(offered('workcell', 'sila', 'call', '127.0.0.1:50052', '--me')).toEqual(['--metadata']);
    expect(offered('workcell', 'resolve', 'P-001', '--action', '')).toEqual(['abort', 'continue', 'retry', 'skip']);
    expect(offered('workcell', 'module', 'ep-1', 'in')).toEqual(['in-service']);
    expect(offered('workcell', 'operators', 'add', 'a.jansen', '--role', '')).toEqual(['admin', 'operator', 'qa']);
    expect(offered('workcell', 'help', 'op')).toEqual(['opcua', 'operators']);
    // FILE arguments and values complete to files; other values to nothing made up
    expect(offered('workcell', 'run', 'layouts/two')).toEqual(['layouts/two-lane.yaml']);
    expect(offered('workcell', 'run', 'layouts/two-lane.yaml', '--schedule', 'schedules/de')).toEqual(['schedules/demo.yaml']);
    expect(offered('workcell', 'validate', 'layouts/two-lane.yaml', 'schedules/de')).toEqual(['schedules/demo.yaml']);
    expect(offered('workcell', 'run', 'layouts/two-lane.yaml', '--patients', '')).toEqual([]);
    expect(offered('workcell', 'status', 'x')).toEqual([]);
  });
});

describe('workcell completion zsh', () => {
  it('parses (zsh -n) and defines a function per command', async (ctx) => {
    if (!hasShell('zsh')) ctx.skip('zsh is not installed: only bash completion is tried here');
    const result = await runCli(['completion', 'zsh']);
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/^#compdef workcell\n/);
    for (const name of ['_workcell', '_workcell_run', '_workcell_sila_call', '_workcell_operators_add']) expect(result.stdout).toContain(`\n${name}() {`);
    const file = join(dir, '_workcell');
    writeFileSync(file, result.stdout);
    const check = spawnSync('zsh', ['-n', file], { encoding: 'utf8' });
    expect(check.stderr).toBe('');
    expect(check.status).toBe(0);
  });

  it('refuses a shell it has no script for', async () => {
    const result = await runCli(['completion', 'fish']);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain("no completion for 'fish': bash or zsh");
  });
});
