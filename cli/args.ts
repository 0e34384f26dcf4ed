/** A small argument reader: positional arguments and --name VALUE / --name=VALUE / --flag options. */
import { readFileSync } from 'node:fs';
import type { Credentials } from '../orchestrator/signatures.ts';
import { UsageError } from './main.ts';

export interface ParsedArgs {
  positional: string[];
  options: Map<string, string[]>;
  flags: Set<string>;
}

export function parseArgs(args: string[], spec: { options?: string[]; flags?: string[] }): ParsedArgs {
  const result: ParsedArgs = { positional: [], options: new Map(), flags: new Set() };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (!arg.startsWith('--')) {
      result.positional.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    if (spec.flags?.includes(name)) {
      if (eq >= 0) throw new UsageError(`--${name} takes no value`);
      result.flags.add(name);
    } else if (spec.options?.includes(name)) {
      const value = eq >= 0 ? arg.slice(eq + 1) : args[++i];
      if (value === undefined) throw new UsageError(`--${name} needs a value`);
      result.options.set(name, [...(result.options.get(name) ?? []), value]);
    } else {
      throw new UsageError(`unknown option --${name}`);
    }
  }
  return result;
}

export function option(parsed: ParsedArgs, name: string): string | undefined {
  return parsed.options.get(name)?.at(-1);
}

/**
 * A password, never from the command line itself (it would stay in shell history and `ps`): from
 * `--password-env VAR` or `--password-file FILE` (other option names with another `optionPrefix`),
 * else the environment variable the command names, else typed at a hidden prompt when a terminal is
 * attached (twice with `confirm`, for a new password).
 */
export async function readPassword(parsed: ParsedArgs, source: { variable: string; prompt: string; optionPrefix?: string; confirm?: boolean }): Promise<string> {
  const optionPrefix = source.optionPrefix ?? 'password';
  const defaultVariable = source.variable;
  const variable = option(parsed, `${optionPrefix}-env`);
  const file = option(parsed, `${optionPrefix}-file`);
  if (variable) {
    const value = process.env[variable];
    if (value === undefined) throw new UsageError(`environment variable ${variable} is not set`);
    return value;
  }
  if (file) return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  const fromDefault = process.env[defaultVariable];
  if (fromDefault !== undefined) return fromDefault;
  if (!process.stdin.isTTY) throw new UsageError(`give the password with --${optionPrefix}-env VAR or --${optionPrefix}-file FILE (or set ${defaultVariable})`);
  const typed = await hiddenPrompt(source.prompt);
  if (source.confirm && (await hiddenPrompt('Again: ')) !== typed) throw new Error('the two passwords differ; nothing was changed');
  return typed;
}

/** Who signs an action, and why: `--user`, `--reason`, and the signer's password (`WORKCELL_PASSWORD` or as above). */
export async function readSigner(parsed: ParsedArgs, what: string): Promise<{ reason: string; signer: Credentials }> {
  const reason = option(parsed, 'reason');
  const user = option(parsed, 'user');
  if (!reason?.trim()) throw new UsageError(`--reason TEXT is required: every ${what} is recorded with why`);
  if (!user?.trim()) throw new UsageError(`--user NAME is required: every ${what} is signed by its operator`);
  return { reason, signer: { user, password: await readPassword(parsed, { variable: 'WORKCELL_PASSWORD', prompt: `Password of ${user} (signing the ${what}): ` }) } };
}

function hiddenPrompt(question: string): Promise<string> {
  const input = process.stdin;
  process.stderr.write(question);
  input.setRawMode(true);
  input.setEncoding('utf8');
  input.resume();
  return new Promise((resolve, reject) => {
    let typed = '';
    const finish = () => {
      input.off('data', onData);
      input.setRawMode(false);
      input.pause();
      process.stderr.write('\n');
    };
    const onData = (chunk: string) => {
      for (const char of chunk) {
        if (char === '\r' || char === '\n') {
          finish();
          resolve(typed);
          return;
        }
        if (char === '\u0003') {
          finish();
          reject(new UsageError('cancelled'));
          return;
        }
        typed = char === '\u007f' || char === '\b' ? typed.slice(0, -1) : typed + char;
      }
    };
    input.on('data', onData);
  });
}
