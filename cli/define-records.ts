/** The commands over a run's records and the people who sign them: descriptions, arguments and options. */
import type { Command } from 'commander';
import { argument, databaseOption, lazy, option, passwordOptions } from './usage.ts';

/** The roles an operator may hold (orchestrator/signatures.ts ROLES, which the command checks against). */
export const ROLE_CHOICES = ['operator', 'qa', 'admin'] as const;

function postgresOptions(command: Command, required: boolean): void {
  option(command, '--postgres <URL>', 'the PostgreSQL database (postgres://USER@HOST/DB); a URL without a user takes PGUSER, else your user name', { required });
  option(command, '--schema <NAME>', 'the schema the copy is in (created if missing)');
}

export function defineRecordCommands(program: Command): void {
  defineOperators(program);

  const record = program
    .command('record')
    .summary("Print a batch's merged electronic batch record.")
    .description(
      "The batch's electronic batch record: text by default, --json as data (raw values, ISO times), --html as one self-contained page that prints on A4 or Letter. --out FILE writes it to a file instead of stdout, through a temporary file and a rename; it never writes over a database, its WAL, shared memory or key file, nor over any existing file unless --force. See docs/records.md.",
    );
  argument(record, '<BATCH>', 'the batch', 'name one batch');
  databaseOption(record);
  option(record, '--json', 'the record as JSON');
  option(record, '--html', 'the record as one printable HTML page');
  option(record, '--out <FILE>', 'write the record to FILE instead of stdout');
  option(record, '--force', 'with --out: replace an existing file (never a database or its companions)');
  record.action(lazy(async () => (await import('./records.ts')).showRecord));

  const publish = program
    .command('publish')
    .summary("Publish a run's entries and live status to an MQTT broker as they are written.")
    .description(
      "Publishes the database's entries and the live status to an MQTT broker as they are written (mqtt://HOST:1883, or mqtts:// for TLS), reading the database only. Without --from-start it goes on after the broker's retained cursor of this log, else from now. Topics: docs/records.md.",
    );
  option(publish, '--mqtt <URL>', 'the broker', { required: true });
  databaseOption(publish);
  option(publish, '--prefix <TOPIC>', 'the start of every topic', { shownDefault: 'workcell' });
  option(publish, '--from-start', 'send the whole log');
  option(publish, '--once', 'publish what is new, then exit');
  option(publish, '--interval <SECONDS>', 'how often it looks for new entries', { default: '0.5' });
  option(publish, '--user <NAME>', 'log in to the broker as NAME');
  passwordOptions(publish, "with --user: the broker password", 'WORKCELL_MQTT_PASSWORD');
  publish.action(lazy(async () => (await import('./records.ts')).publish));

  const mirror = program
    .command('mirror')
    .summary("Copy a database's entries to PostgreSQL, chain-checked (--follow keeps copying).")
    .description(
      "Copies a database's committed entries and signed checkpoints to PostgreSQL, page by page, each page chain-checked and in one transaction; prints a line per page. --follow keeps copying what another process commits (looking every --interval seconds) until Ctrl-C, with a line at least once a minute.",
    );
  postgresOptions(mirror, true);
  databaseOption(mirror);
  option(mirror, '--follow', 'keep copying until Ctrl-C');
  option(mirror, '--interval <SECONDS>', 'with --follow: how often it looks for new entries', { default: '2' });
  mirror.action(lazy(async () => (await import('./integrity.ts')).mirror));

  const verify = program
    .command('verify')
    .summary('Recompute every hash chain of a database, or of the logs mirrored to PostgreSQL.')
    .description(
      [
        'Recomputes every hash chain of a database and checks it against its signed checkpoints; exit 1 naming the first altered, missing, reordered, truncated or rewritten entry of each stream. A log with entries but no checkpoint also exits 1 (truncation would not show).',
        "With --postgres, also compares the local log with its copy in PostgreSQL; without FILE, verifies every log mirrored there (and that the copy's append-only triggers exist). See docs/records.md.",
      ].join('\n\n'),
    );
  argument(verify, '[FILE]', 'the database (give FILE, --postgres, or both)', 'name one database file');
  postgresOptions(verify, false);
  verify.action(lazy(async () => (await import('./integrity.ts')).verify));
}

function defineOperators(program: Command): void {
  const operators = program
    .command('operators')
    .summary('Enrol, disable and list the operators who sign; change a password.')
    .description('The people who sign, per database: user id, printed name and roles; and the signatures refused.');
  const load = async () => import('./operators.ts');

  const add = operators
    .command('add')
    .summary('Enrol an operator.')
    .description(
      "Enrols one operator. The first enrolled in a database must have the role admin and is added without --by; every later one is signed by an admin (--by ADMIN, with the admin's password). The new password needs 10 characters other than spaces and no leading or trailing space; at a prompt it is typed twice. Creates the database when it does not exist yet.",
    );
  argument(add, '<USER>', 'the new user id', 'name one user id');
  option(add, '--name <NAME>', 'the printed name signatures show', { required: true });
  option(add, '--role <ROLE>', 'a role (once per role)', { required: true, repeat: true, choices: ROLE_CHOICES });
  option(add, '--by <ADMIN>', 'the admin who signs the enrolment (not for the first admin)');
  databaseOption(add);
  passwordOptions(add, 'the new password', 'WORKCELL_NEW_PASSWORD', 'new-password');
  passwordOptions(add, "the admin's password", 'WORKCELL_PASSWORD');
  add.action(lazy(async () => (await load()).add));

  const disable = operators
    .command('disable')
    .summary('Withdraw an authority to sign.')
    .description('Withdraws an authority to sign, signed by an admin; the last admin cannot be disabled.');
  argument(disable, '<USER>', 'the user id', 'name one user id');
  option(disable, '--reason <TEXT>', 'why: recorded with the signature', { required: true });
  option(disable, '--by <ADMIN>', 'the admin who signs it', { required: true });
  databaseOption(disable);
  passwordOptions(disable, "the admin's password", 'WORKCELL_PASSWORD');
  disable.action(lazy(async () => (await load()).disable));

  const passwd = operators
    .command('passwd')
    .summary('Change your own password.')
    .description('Changes your own password, signed with the current one (from the options or variables of a signature); the new one as for add.');
  argument(passwd, '<USER>', 'your user id', 'name one user id');
  databaseOption(passwd);
  passwordOptions(passwd, 'the current password', 'WORKCELL_PASSWORD');
  passwordOptions(passwd, 'the new password', 'WORKCELL_NEW_PASSWORD', 'new-password');
  passwd.action(lazy(async () => (await load()).passwd));

  const list = operators.command('list').summary('List operators and refused signatures.').description('The operators, their roles, who enrolled them, and the signatures refused.');
  databaseOption(list);
  option(list, '--json', 'the same as JSON');
  list.action(lazy(async () => (await load()).list));
}
