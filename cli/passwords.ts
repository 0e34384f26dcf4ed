/** Passwords and signers: from the options of `usage.ts`'s passwordOptions and signerOptions. */
import { readFileSync } from 'node:fs';
import type { Credentials } from '../orchestrator/signatures.ts';
import { UsageError } from './usage.ts';

/** The password options of a command (`--password-env`, `--password-file`, and the `--new-password-` pair). */
export interface PasswordOptions {
  passwordEnv?: string;
  passwordFile?: string;
  newPasswordEnv?: string;
  newPasswordFile?: string;
}

export interface SignerOptions extends PasswordOptions {
  reason?: string;
  user?: string;
}

/**
 * A password, never from the command line itself (it would stay in shell history and `ps`): from
 * `--password-env VAR` or `--password-file FILE` (the `--new-password-` pair with `optionPrefix`
 * 'new-password'), else the environment variable the command names, else typed at a hidden prompt
 * when a terminal is attached (twice with `confirm`, for a new password).
 */
export async function readPassword(options: PasswordOptions, source: { variable: string; prompt: string; optionPrefix?: 'password' | 'new-password'; confirm?: boolean }): Promise<string> {
  const optionPrefix = source.optionPrefix ?? 'password';
  const defaultVariable = source.variable;
  const [variable, file] = optionPrefix === 'password' ? [options.passwordEnv, options.passwordFile] : [options.newPasswordEnv, options.newPasswordFile];
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
export async function readSigner(options: SignerOptions, what: string): Promise<{ reason: string; signer: Credentials }> {
  const { reason, user } = options;
  if (!reason?.trim()) throw new UsageError(`--reason TEXT is required: every ${what} is recorded with why`);
  if (!user?.trim()) throw new UsageError(`--user NAME is required: every ${what} is signed by its operator`);
  return { reason, signer: { user, password: await readPassword(options, { variable: 'WORKCELL_PASSWORD', prompt: `Password of ${user} (signing the ${what}): ` }) } };
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
