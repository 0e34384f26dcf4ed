/** `workcell operators`: enrol the people who sign hold answers and removals, and list them. */
import { resolve } from 'node:path';
import { EventLog } from '../orchestrator/event-log.ts';
import { workcellNow } from '../orchestrator/run-settings.ts';
import { changePassword, disableOperator, enrolOperator, listOperators, refusedSignatures, ROLES, type Role } from '../orchestrator/signatures.ts';
import { printable } from '../config/printable.ts';
import { readPassword, type PasswordOptions } from './passwords.ts';
import { withDatabase } from './database.ts';
import { DEFAULT_DATABASE, UsageError } from './usage.ts';

interface OperatorsOptions extends PasswordOptions {
  db?: string;
  name?: string;
  role?: string[];
  by?: string;
  reason?: string;
  json?: boolean;
}

/** `workcell operators add USER`. */
export async function add([user]: [string], parsed: OperatorsOptions): Promise<number> {
  const printedName = parsed.name;
  if (!printedName?.trim()) throw new UsageError('--name "PRINTED NAME" is required: signatures show it');
  const roles = parsed.role ?? [];
  if (roles.length === 0) throw new UsageError(`give --role (${ROLES.join(', ')}) once per role`);
  const unknown = roles.find((r) => !(ROLES as readonly string[]).includes(r));
  if (unknown) throw new UsageError(`no role '${unknown}' (roles: ${ROLES.join(', ')})`);
  const by = parsed.by;
  const password = await newPassword(parsed, user);
  const admin = by ? { user: by, password: await readPassword(parsed, { variable: 'WORKCELL_PASSWORD', prompt: `Password of ${by} (signing the enrolment): ` }) } : undefined;
  const log = new EventLog(resolve(parsed.db ?? DEFAULT_DATABASE));
  try {
    enrolOperator(log, { user, printedName, roles: roles as Role[], password }, admin, workcellNow(log));
    process.stdout.write(`Enrolled ${printable(printedName)} (${user}) as ${roles.join(', ')}${by ? `, signed by ${by}` : ' (the first admin)'} in ${log.file}.\n`);
    return 0;
  } finally {
    log.close();
  }
}

function newPassword(parsed: OperatorsOptions, user: string): Promise<string> {
  return readPassword(parsed, { variable: 'WORKCELL_NEW_PASSWORD', prompt: `New password for ${user}: `, optionPrefix: 'new-password', confirm: true });
}

/** `workcell operators disable USER`. */
export async function disable([user]: [string], parsed: OperatorsOptions): Promise<number> {
  const reason = parsed.reason;
  if (!reason?.trim()) throw new UsageError('--reason TEXT is required: withdrawing an authority to sign is recorded with why');
  const by = parsed.by;
  if (!by) throw new UsageError('--by ADMIN is required: an admin signs it');
  const admin = { user: by, password: await readPassword(parsed, { variable: 'WORKCELL_PASSWORD', prompt: `Password of ${by} (signing): ` }) };
  return withDatabase(parsed.db, { readonly: false }, (log) => {
    disableOperator(log, user, reason, admin, workcellNow(log));
    process.stdout.write(`${printable(`${user} may no longer sign (${reason}); signed by ${by}.`)}\n`);
    return 0;
  });
}

/** `workcell operators passwd USER`: your own password, signed with the current one. */
export async function passwd([user]: [string], parsed: OperatorsOptions): Promise<number> {
  const current = await readPassword(parsed, { variable: 'WORKCELL_PASSWORD', prompt: `Current password of ${user}: ` });
  const password = await newPassword(parsed, user);
  return withDatabase(parsed.db, { readonly: false }, (log) => {
    changePassword(log, { user, password: current }, password, workcellNow(log));
    process.stdout.write(`Password of ${user} changed.\n`);
    return 0;
  });
}

/** `workcell operators list`. */
export function list(_args: [], parsed: OperatorsOptions): Promise<number> {
  return withDatabase(parsed.db, { readonly: true }, (log) => {
    const operators = listOperators(log);
    const refused = refusedSignatures(log).map((e) => ({ user: e.data.user, action: e.data.action, reason: e.data.reason, at: e.data.signedAt }));
    if (parsed.json) {
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
