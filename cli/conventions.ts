// What holds for every command: in `workcell --help` (program.ts) and in docs/cli.md (docs.ts).

/** The environment variables Workcell reads, and what for. */
export const ENVIRONMENT: ReadonlyArray<readonly [string, string]> = [
  ['WORKCELL_PASSWORD', "the signer's password when no --password-env/--password-file is given"],
  ['WORKCELL_NEW_PASSWORD', 'operators add, operators passwd: the new password'],
  ['WORKCELL_MQTT_PASSWORD', 'publish --user: the broker password'],
  ['WORKCELL_OPCUA_PASSWORD', "opcua browse --user, and the example layouts' passwordEnv"],
  ['WORKCELL_SIM_PORT_BASE', 'run --sim, demo, sim: a port base when --port-base is not given (docs/simulators.md)'],
  ['WORKCELL_OPCUA_LOG=warn', "show node-opcua's own warnings (quiet otherwise)"],
  ['WORKCELL_QUIET_NOTICE_MS', 'run, resume, demo: after how many ms without output a run says what it waits for (default 60000)'],
  ['PGUSER, PGPASSWORD', 'mirror, verify --postgres: libpq defaults for a URL that names no user or password'],
];

/** What holds for every command, paragraph by paragraph: printed after the list of commands, and in docs/cli.md. */
export const CONVENTIONS: readonly string[] = [
  "Exit status: 0 when the command did what was asked; 1 when it could not (a refused signature, a broken chain, a batch that did not complete), with one line 'workcell COMMAND: what is wrong' on stderr and no stack trace; 2 for a usage mistake (unknown option, missing argument), with the command's usage line. `workcell` alone prints the list of commands with status 2, `workcell help` with status 0. A command whose output pipe closes early (`workcell summary | head`) ends quietly with status 0.",
  'Options are --name VALUE, --name=VALUE or a bare --flag. An option given twice keeps the last value, except the repeatable ones (--batch, --role, --deliver, --param, --metadata).',
  'The database: every command that works on a run takes --db FILE, by default workcell.db in the working directory (demo writes a new `.workcell/demo-<UTC time>.db` each time). Commands that read or act on a run refuse a database that does not exist rather than create an empty one; run and operators add create it, readable by its owner only (0600), with its signing key beside it in FILE.key (docs/records.md).',
  "Signing: commands that change what happens to a batch or a module are signed with a user id (--user NAME), a reason (--reason TEXT) and the user's password. The password is never an argument: it comes from, in this order, --password-env VAR (the variable's value), --password-file FILE (its content, without a final newline), the variable WORKCELL_PASSWORD, or a hidden prompt when a terminal is attached; without any of them and without a terminal the command stops with a usage error. Roles and what each signature means: docs/records.md.",
  'Text from people and devices (reasons, hold messages, device errors, names) is printed escaped: a newline or terminal escape in it shows as \\n or \\x1b, so every line stays the line it is.',
];
