/** `workcell operators`: enrol the people who sign hold answers and removals, and list them. */
import { resolve } from 'node:path';
import { EventLog } from '../orchestrator/event-log.ts';
import { workcellNow } from '../orchestrator/run-settings.ts';
import { changePassword, disableOperator, enrolOperator, listOperators, refusedSignatures, ROLES, type Role } from '../orchestrator/signatures.ts';
import { printable } from '../config/printable.ts';
import { parseArgs, option, readPassword, type ParsedArgs } from './args.ts';
import { UsageError, type Command } from './main.ts';
import { DEFAULT_DATABASE, withDatabase } from './database.ts';

const USAGE = [
  'workcell operators add USER --name "PRINTED NAME" --role operator|qa|admin [--role ...] [--by ADMIN] [--db FILE]',
  '    the new password from --new-password-env VAR | --new-password-file FILE | WORKCELL_NEW_PASSWORD | a prompt;',
  "    the admin's from --password-env VAR | --password-file FILE | WORKCELL_PASSWORD | a prompt",
  'workcell operators disable USER --reason TEXT --by ADMIN [--db FILE]',
  'workcell operators passwd USER [--db FILE]    (the current password as for signing, the new one as for add)',
  'workcell operators list [--db FILE] [--json]',
].join('\n       ');

export const operatorsCommand: Command = {
  name: 'operators',
  summary: 'Enrol, disable and list operators (user id, printed name, roles); change a password; see refused signatures.',
  usage: USAGE,
  async run(args) {
    const [verb, ...rest] = args;
    if (verb === 'add') return add(parseArgs(rest, { options: ['name', 'role', 'by', 'db', 'password-env', 'password-file', 'new-password-env', 'new-password-file'] }));
    if (verb === 'disable') return disable(parseArgs(rest, { options: ['reason', 'by', 'db', 'password-env', 'password-file'] }));
    if (verb === 'passwd') return passwd(parseArgs(rest, { options: ['db', 'password-env', 'password-file', 'new-password-env', 'new-password-file'] }));
    if (verb === 'list') return list(parseArgs(rest, { options: ['db'], flags: ['json'] }));
    throw new UsageError(verb ? `no operators command '${verb}' (add, disable, passwd, list)` : 'say add, disable, passwd or list');
  },
};

async function add(parsed: ParsedArgs): Promise<number> {
  const user = parsed.positional[0];
  if (!user || parsed.positional.length > 1) throw new UsageError('name one user id');
  const printedName = option(parsed, 'name');
  if (!printedName?.trim()) throw new UsageError('--name "PRINTED NAME" is required: signatures show it');
  const roles = parsed.options.get('role') ?? [];
  if (roles.length === 0) throw new UsageError(`give --role (${ROLES.join(', ')}) once per role`);
  const unknown = roles.find((r) => !(ROLES as readonly string[]).includes(r));
  if (unknown) throw new UsageError(`no role '${unknown}' (roles: ${ROLES.join(', ')})`);
  const by = option(parsed, 'by');
  const password = await newPassword(parsed, user);
  const admin = by ? { user: by, password: await readPassword(parsed, { variable: 'WORKCELL_PASSWORD', prompt: `Password of ${by} (signing the enrolment): ` }) } : undefined;
  const log = new EventLog(resolve(option(parsed, 'db') ?? DEFAULT_DATABASE));
  try {
    enrolOperator(log, { user, printedName, roles: roles as Role[], password }, admin, workcellNow(log));
    process.stdout.write(`Enrolled ${printable(printedName)} (${user}) as ${roles.join(', ')}${by ? `, signed by ${by}` : ' (the first admin)'} in ${log.file}.\n`);
    return 0;
  } finally {
    log.close();
  }
}

function newPassword(parsed: ParsedArgs, user: string): Promise<string> {
  return readPassword(parsed, { variable: 'WORKCELL_NEW_PASSWORD', prompt: `New password for ${user}: `, optionPrefix: 'new-password', confirm: true });
}

async function disable(parsed: ParsedArgs): Promise<number> {
  const user = parsed.positional[0];
  if (!user || parsed.positional.length > 1) throw new UsageError('name one user id');
  const reason = option(parsed, 'reason');
  if (!reason?.trim()) throw new UsageError('--reason TEXT is required: withdrawing an authority to sign is recorded with why');
  const by = option(parsed, 'by');
  if (!by) throw new UsageError('--by ADMIN is required: an admin signs it');
  const admin = { user: by, password: await readPassword(parsed, { variable: 'WORKCELL_PASSWORD', prompt: `Password of ${by} (signing): ` }) };
  return withDatabase(option(parsed, 'db'), { readonly: false }, (log) => {
    disableOperator(log, user, reason, admin, workcellNow(log));
    process.stdout.write(`${printable(`${user} may no longer sign (${reason}); signed by ${by}.`)}\n`);
    return 0;
  });
}

async function passwd(parsed: ParsedArgs): Promise<number> {
  const user = parsed.positional[0];
  if (!user || parsed.positional.length > 1) throw new UsageError('name one user id');
  const current = await readPassword(parsed, { variable: 'WORKCELL_PASSWORD', prompt: `Current password of ${user}: ` });
  const password = await newPassword(parsed, user);
  return withDatabase(option(parsed, 'db'), { readonly: false }, (log) => {
    changePassword(log, { user, password: current }, password, workcellNow(log));
    process.stdout.write(`Password of ${user} changed.\n`);
    return 0;
  });
}

function list(parsed: ParsedArgs): Promise<number> {
  return withDatabase(option(parsed, 'db'), { readonly: true }, (log) => {
    const operators = listOperators(log);
    const refused = refusedSignatures(log).map((e) => ({ user: e.data.user, action: e.data.action, reason: e.data.reason, at: e.data.signedAt }));
    if (parsed.flags.has('json')) {
      process.stdout.write(`${JSON.stringify({ operators, refusedSignatures: refused }, null, 2)}\n`);
      return 0;
    }
    if (operators.length === 0) process.stdout.write(`No operators enrolled in ${log.file}: enrol the first admin with workcell operators add USER --name NAME --role admin\n`);
    // Reasons (and names from before names were checked) are shown escaped: one line per operator.
    for (const o of operators) process.stdout.write(`${printable(`${o.user.padEnd(14)} ${o.printedName.padEnd(24)} ${o.roles.join(', ').padEnd(20)} enrolled ${o.enrolledAt}${o.enrolledBy ? ` by ${o.enrolledBy}` : ''}${o.disabled ? `; DISABLED ${o.disabled.at} by ${o.disabled.by}: ${o.disabled.reason}` : ''}`)}\n`);
    if (refused.length > 0) {
      process.stdout.write(`\nRefused signatures (${refused.length}):\n`);
      for (const r of refused) process.stdout.write(`${printable(`  ${r.at} ${r.user} ${r.action}: ${r.reason}`)}\n`);
    }
    return 0;
  });
}
