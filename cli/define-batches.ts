/** The commands that run batches and act on them: their descriptions, arguments and options. */
import type { Command } from 'commander';
import { argument, databaseOption, lazy, option, passwordOptions, signerOptions } from './usage.ts';

const PORT_BASE_HELP = 'simulator i of the layout (file order) on port N+i; 0 means ports the OS picks (else WORKCELL_SIM_PORT_BASE)';

/** `--inspect` and `--inspect-url`, for the commands that drive batches. */
function inspectOptions(command: Command): void {
  option(command, '--inspect', 'send XState inspection events to a @statelyai/inspect WebSocket relay');
  option(command, '--inspect-url <URL>', 'where the relay listens (with --inspect)', { shownDefault: 'ws://127.0.0.1:8080' });
}

export function defineBatchCommands(program: Command): void {
  const demo = program
    .command('demo')
    .summary('Four simulated patients through the 4-lane example workcell (what npm start runs).')
    .description('What `npm start` runs: `workcell run layouts/four-lane.yaml --schedule schedules/demo.yaml --sim` with four patients at time scale 1800. Each demo writes a database of its own.');
  option(demo, '--patients <N>', 'batches P-001 ... P-00N, one lane after another', { default: '4' });
  option(demo, '--time-scale <N>', 'simulated seconds per wall-clock second', { default: '1800' });
  option(demo, '--db <FILE>', "the run's database (its directory is created)", { shownDefault: '.workcell/demo-<UTC time>.db' });
  option(demo, '--port-base <N>', PORT_BASE_HELP, { shownDefault: 'ports the OS picks' });
  demo.action(lazy(async () => (await import('./run.ts')).demo));

  const run = program
    .command('run')
    .summary('Run patient batches through a workcell (simulated in-process with --sim).')
    .description(
      [
        'Validates the layout and the schedule, takes the database\'s lease (one orchestrator per database), starts the batches and drives them until every one has completed or been quarantined and every settle plate has been read. It prints one line per batch whenever its step, module or state changes, with the expected finish, and after a minute without output what it waits for. It ends with the deviations per batch and the commands to read, verify and review the records.',
        'Give --patients or --batch, not both. Each batch gets the chain-of-identity id COI-ID and the starting-material bag BAG-ID (for the batch ID), which every robot hand-off scans. A batch id the database already holds is refused. On a database that holds earlier batches the run first resumes what they left (docs/orchestrator.md).',
        'Exit status 0 when every batch completed, 1 when one was quarantined (or the lease was taken over by another process), 130 when stopped by Ctrl-C or SIGTERM (every unfinished batch then continues with `workcell resume`). With --inspect and nothing listening, the run still finishes, and says how to start the relay.',
      ].join('\n\n'),
    );
  argument(run, '<LAYOUT>', 'the layout file', 'name one layout file');
  option(run, '--schedule <FILE>', 'the schedule every batch of this run follows; its text is stored with each batch', { required: true });
  option(run, '--patients <N>', 'batches P-001, P-002, ... assigned to the layout\'s lanes in turn');
  option(run, '--batch <ID[:LANE]>', 'one batch; the lane is chosen in turn when not given. An id is letters, digits, ".", "_", "-"', { repeat: true });
  option(run, '--sim', 'simulators for every module inside this process, on ports the OS picks; without it Workcell connects to the endpoints in the layout');
  option(run, '--time-scale <N>', 'simulated seconds per wall-clock second (the workcell clock of this run)', { default: '1' });
  option(run, '--seed <N>', 'seed of the simulated devices and starting material (with --sim)', { default: '1' });
  databaseOption(run);
  option(run, '--faults <FILE>', 'faults for the in-process simulators (needs --sim; docs/simulators.md)');
  option(run, '--port-base <N>', `with --sim: ${PORT_BASE_HELP}`, { shownDefault: 'ports the OS picks' });
  option(run, '--virtual', 'with --sim: the whole run in virtual time (the digital twin): the clock jumps from event to event, devices in this process, no sockets; prints the digest of the entries (the same layout, schedule, batches, seed and start give the same one). --time-scale does not apply; the database must be new');
  option(run, '--start <DATE>', 'with --virtual: the workcell time the run starts at, an ISO date or date-time (UTC unless a zone is given)', { shownDefault: 'today 00:00 UTC' });
  inspectOptions(run);
  run.action(lazy(async () => (await import('./run.ts')).run));

  const resume = program
    .command('resume')
    .summary('Continue every unfinished batch of a database after a stop or crash.')
    .description(
      [
        'Continues every unfinished batch of a database after a stop or a crash (kill -9 included), with the settings the last run recorded (layout file, time scale, seed, clock), then finishes any settle plates. It refuses a run that used --sim: those simulators, and the material in them, ended with that process.',
        'The layout file must be the one the batches ran on (its SHA-256 is recorded). A changed layout is refused unless QA accepts it: --accept-layout-change with --reason and --user records a signed layout.changed entry with both hashes (role qa). Exit statuses as for run.',
      ].join('\n\n'),
    );
  databaseOption(resume);
  inspectOptions(resume);
  option(resume, '--accept-layout-change', 'accept a layout changed since its batches ran on it (signed by QA: --reason, --user)');
  option(resume, '--reason <TEXT>', 'with --accept-layout-change: why the changed layout is accepted');
  option(resume, '--user <NAME>', 'with --accept-layout-change: the user id of the QA signer');
  passwordOptions(resume, "the signer's password", 'WORKCELL_PASSWORD');
  resume.action(lazy(async () => (await import('./run.ts')).resume));

  const status = program
    .command('status')
    .summary("Each batch's step, module, state and expected finish; module states; holds and alarms.")
    .description(
      "What the orchestrator of this database last wrote (it rewrites its status several times a second): each batch's step, module, state and expected finish, and for a waiting or held batch why; the hold time running and how much is left; every module's state and occupant; exposed settle plates. From the log itself: modules out of service, open holds, finished batches awaiting QA review and what each review still waits for, and the last ten alarms. The first line says how old the status is and whether the run ended; a status older than 5 s from a run that did not end means the orchestrator may have stopped.",
    );
  databaseOption(status);
  option(status, '--json', 'the same as one JSON object');
  status.action(lazy(async () => (await import('./records.ts')).status));

  const holds = program
    .command('holds')
    .summary('List batches waiting for an operator.')
    .description(
      "Every open hold: batch, step, kind, since when, the message, the hold time still running after the previous step (a hold does not stop it), the actions offered, the device's own continuation options when the device raised a recoverable error, and what a skip would approve.",
    );
  databaseOption(holds);
  option(holds, '--json', 'the holds as JSON');
  holds.action(lazy(async () => (await import('./records.ts')).holds));

  const resolve = program
    .command('resolve')
    .summary("Answer a batch's hold: retry, skip or abort, with reason, signed.")
    .description(
      "Answers a batch's open hold, signed; works from any process while the orchestrator runs (it acts on the answer within a fraction of a second) or while none runs (the next resume acts on it). The action must be one the hold offers. continue sends one of the device's continuation options (--option, as holds lists them) back to the device. Roles: retry and continue need operator or qa; skip and abort need qa.",
    );
  argument(resolve, '<BATCH>', 'the held batch', 'name one batch');
  option(resolve, '--action <ACTION>', 'the answer', { required: true, choices: ['retry', 'skip', 'abort', 'continue'] });
  option(resolve, '--option <DEVICE_OPTION>', "with --action continue: the device's continuation option to send");
  signerOptions(resolve);
  resolve.action(lazy(async () => (await import('./records.ts')).answerHold));

  const hold = program
    .command('hold')
    .summary('Hold a batch at its next safe point, signed.')
    .description(
      'Asks the running orchestrator to hold a batch at its next safe point (before its next transfer, command or step; a batch waiting for a module holds at once; a running command is paused on devices that can pause). Signed (operator or qa). Refused for a finished batch, one already held, or one with a hold requested already. Answer the hold with `workcell resolve`.',
    );
  argument(hold, '<BATCH>', 'the batch to hold', 'name one batch');
  signerOptions(hold);
  hold.action(lazy(async () => (await import('./operations.ts')).hold));

  const module = program
    .command('module')
    .summary("Take a module out of service or back (signed); re-read a module's state.")
    .description(
      "out-of-service takes a module out of allocation: no batch is given it until in-service returns it (signed, operator or qa; a batch already on it goes on). refresh asks the running orchestrator to read the module's state from the device again and prints what it found (no signature); with no orchestrator running it records the request, says so, and exits 1. MODULE must be a module of the layout the database's last run used.",
    );
  argument(module, '<MODULE>', 'a module of the layout', 'name a module and what to do: out-of-service, in-service or refresh');
  argument(module, '<ACTION>', 'out-of-service, in-service or refresh', 'name a module and what to do: out-of-service, in-service or refresh');
  module.registeredArguments.at(-1)!.argChoices = ['out-of-service', 'in-service', 'refresh'];
  option(module, '--reason <TEXT>', 'why (out-of-service, in-service): recorded with the signature');
  option(module, '--user <NAME>', 'the user id of the signer (out-of-service, in-service)');
  passwordOptions(module, "the signer's password", 'WORKCELL_PASSWORD');
  databaseOption(module);
  module.action(lazy(async () => (await import('./operations.ts')).moduleAction));

  const remove = program
    .command('remove')
    .summary("Record that a quarantined batch's stuck material was taken out by hand (signed).")
    .description(
      "Records that an operator took a quarantined batch's stuck material out by hand (the robot could not move it out in three tries). Signed (operator or qa). A running orchestrator then frees the module and starts its line clearance.",
    );
  argument(remove, '<BATCH>', 'the quarantined batch', 'name one batch');
  signerOptions(remove);
  remove.action(lazy(async () => (await import('./records.ts')).remove));

  const review = program
    .command('review')
    .summary("QA's signed review of a finished batch's record: approve for release or reject.")
    .description(
      "QA's signed disposition of a finished batch's record, once per batch, over the chain head reviewed. Refused until every settle plate exposed while the batch was open has been read and stuck material has been removed; refused for a signer who signed anything for the batch (independence); a quarantined batch can only be rejected. Role qa.",
    );
  argument(review, '<BATCH>', 'the finished batch', 'name one batch');
  option(review, '--decision <DECISION>', 'approve for release, or reject', { required: true, choices: ['approve', 'reject'] });
  signerOptions(review);
  review.action(lazy(async () => (await import('./records.ts')).review));
}
