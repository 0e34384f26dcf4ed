/** The commands over configuration files and devices: descriptions, arguments and options. */
import type { Command } from 'commander';
import { argument, lazy, option, passwordOptions } from './usage.ts';

/** How long `sila call --lock` holds the lock without a call, unless it says. */
const DEFAULT_LOCK_SECONDS = '60';

export function defineDeviceCommands(program: Command): void {
  const validate = program
    .command('validate')
    .summary('Check layouts and schedules, and that each schedule fits each layout.')
    .description(
      'Checks layouts and schedules (a file is a layout or a schedule by its top-level key) and that every schedule fits every layout named. Each finding is one FILE:LINE:COL: message line, all of them at once, in file order; the count goes to stderr. Exit 1 if there is any error, 0 otherwise (warnings do not fail). What is checked: docs/layouts.md, docs/schedules.md.',
    );
  argument(validate, '<FILE...>', 'layouts and schedules', 'name at least one layout or schedule file');
  option(validate, '--today <YYYY-MM-DD>', 'the date qualifications and calibrations are checked against', { shownDefault: 'today, UTC' });
  option(validate, '--quiet', 'no count on stderr');
  option(validate, '--all', 'print every finding, not only the first 1,000');
  validate.action(lazy(async () => (await import('./validate.ts')).validate));

  const summary = program
    .command('summary')
    .summary('Validate layouts and schedules (default: the shipped examples) and summarise each.')
    .description(
      "Validates (by default the example layouts and schedules shipped in layouts/ and schedules/) and describes each file: a layout's lanes, shared modules, line clearances, robots, zones and the first qualification to expire; a schedule's steps with expected durations, hold times, controls, environmental monitoring and recurring work.",
    );
  argument(summary, '[FILE...]', 'layouts and schedules (default: the shipped examples)');
  summary.action(lazy(async () => (await import('./summary.ts')).summary));

  defineSila(program);

  const opcua = program.command('opcua').summary('Browse an OPC UA LADS server.').description('A quick look at any OPC UA LADS server. See docs/opcua.md.');
  const browse = opcua
    .command('browse')
    .summary('Devices, identity, health, functional units and programs.')
    .description(
      "Lists the LADS devices under the server's DI DeviceSet: identity, health, each functional unit's state with its sensor values and program templates. For a simulator of a layout, use the layout's PKI folder, which sim set up to trust it: --pki layouts/.workcell/pki/opcua.",
    );
  argument(browse, '<ENDPOINT>', 'the server, such as opc.tcp://127.0.0.1:4840', 'name the endpoint, such as opc.tcp://127.0.0.1:4840');
  option(browse, '--security <MODE>', 'message security; None also needs --insecure', { shownDefault: 'SignAndEncrypt (None with --insecure)', choices: ['None', 'Sign', 'SignAndEncrypt'] });
  option(browse, '--policy <POLICY>', 'security policy', { shownDefault: 'Basic256Sha256', choices: ['Basic256Sha256', 'Aes128_Sha256_RsaOaep', 'Aes256_Sha256_RsaPss'] });
  option(browse, '--insecure', 'allow a connection that neither signs nor encrypts');
  option(browse, '--user <NAME>', 'user-name login', { shownDefault: 'anonymous' });
  passwordOptions(browse, "with --user: the user's password", 'WORKCELL_OPCUA_PASSWORD');
  option(browse, '--pki <DIR>', 'the client certificate and trust list; an untrusted server certificate is put in DIR/rejected and the error says where to move it', { shownDefault: '~/.workcell/pki/opcua' });
  browse.action(lazy(async () => (await import('./opcua.ts')).browse));

  const sim = program
    .command('sim')
    .summary('Start simulators for every module of a layout on their configured endpoints.')
    .description(
      "A simulated device for every module of the layout, each a real SiLA 2 or OPC UA server, until Ctrl-C or SIGTERM. Prints each module's endpoint and CA file. OPC UA modules take the password named by the layout's passwordEnv (the examples: WORKCELL_OPCUA_PASSWORD) from the environment. See docs/simulators.md.",
    );
  argument(sim, '<LAYOUT>', 'the layout file', 'name one layout file');
  option(sim, '--time-scale <N>', 'simulated seconds per wall-clock second; give run the same', { default: '1' });
  option(sim, '--faults <FILE>', 'faults to inject (docs/simulators.md)');
  option(sim, '--seed <N>', 'seed of device behaviour and starting material', { default: '1' });
  option(sim, '--deliver <BAG@POSITION>', 'a simulated operator places the bag at the position, each bag once the previous one at that position was taken', { repeat: true });
  option(sim, '--port-base <N>', "module i (file order) on port N+i; 0: ports the OS picks. Writes a copy of the layout naming the endpoints and prints its path", { shownDefault: "the layout's ports" });
  sim.action(lazy(async () => (await import('./sim.ts')).sim));
}

/** `--ca`, `--insecure`, `--trust-discovered-ca` and the two further connection options of `sila browse` and `sila call`. */
function connectionOptions(command: Command): void {
  option(command, '--ca <FILE>', 'trust this CA (for a simulator, the CA file sim printed)');
  option(command, '--insecure', 'plain text, only to a server that is plain text too');
  option(command, '--trust-discovered-ca', 'trust the CA the server publishes in its DNS-SD record');
  option(command, '--timeout <MS>', 'connect timeout', { default: '5000' });
  discoveryOption(command);
}

function discoveryOption(command: Command): void {
  option(command, '--discovery-unicast <HOST:PORT>', 'query a DNS-SD responder by unicast instead of multicast');
}

function defineSila(program: Command): void {
  const sila = program
    .command('sila')
    .summary('Browse, call and discover SiLA 2 servers; print .proto; generate module features.')
    .description('Look at and drive any SiLA 2 server from the terminal. See docs/sila2.md.');
  const load = async () => import('./sila.ts');

  const browse = sila
    .command('browse')
    .summary("A server's identity, core features and every feature.")
    .description("The server's identity, which core features it implements, then every feature: commands with parameter, intermediate and response types (each constraint with its value), properties, metadata with the calls each affects, errors and data types.");
  argument(browse, '<HOST:PORT>', 'the server', 'name the server as HOST:PORT');
  connectionOptions(browse);
  browse.action(lazy(async () => (await load()).browse));

  const call = sila
    .command('call')
    .summary('Run one command.')
    .description(
      [
        'Runs one command; an observable one prints its execution UUID, progress and intermediate responses, then the responses. A SiLA error is printed with its type and identifier, exit 1.',
        'Values: lists, structures and Any as JSON, Binary as text or @file, Boolean as true/false (yes/no, 1/0), Date 2026-11-22Z, Time 14:30:00Z, Timestamp 2026-11-22T14:30:00Z (a zone is required). An IdempotencyKey the call needs is made up and printed.',
      ].join('\n\n'),
    );
  argument(call, '<HOST:PORT>', 'the server', 'name the server as HOST:PORT');
  argument(call, '<FEATURE>', 'an identifier (CellSeparator) or a fully qualified one', 'name the feature and the command');
  argument(call, '<COMMAND>', "the command's identifier", 'name the feature and the command');
  option(call, '--param <NAME=VALUE>', 'a parameter of the command (every one is needed)', { repeat: true });
  option(call, '--metadata <NAME=VALUE>', 'metadata by identifier or fully qualified identifier', { repeat: true });
  option(call, '--lock [SECONDS]', `lock the server (LockController) for the call with that timeout (${DEFAULT_LOCK_SECONDS} s when SECONDS is not given), and unlock it after`, { preset: DEFAULT_LOCK_SECONDS });
  connectionOptions(call);
  // `--lock` takes only a number: `--lock TestBench Echo` leaves the feature an argument.
  const parseOptions = call.parseOptions.bind(call);
  call.parseOptions = (args: string[]) => parseOptions(args.flatMap((arg, i) => (arg === '--lock' && !/^\d+$/.test(args[i + 1] ?? '') ? [`--lock=${DEFAULT_LOCK_SECONDS}`] : [arg])));
  call.action(lazy(async () => (await load()).call));

  const proto = sila.command('proto').summary('The protobuf of a feature definition.').description('The protobuf of a feature definition, for other languages.');
  argument(proto, '<FILE.sila.xml>', 'the feature definition', 'name one feature definition file');
  proto.action(lazy(async () => (await load()).proto));

  const discover = sila.command('discover').summary('SiLA servers on the local network.').description('SiLA servers announced over DNS-SD (_sila._tcp) on the local network.');
  option(discover, '--timeout <MS>', 'how long to wait for answers', { default: '2000' });
  discoveryOption(discover);
  discover.action(lazy(async () => (await load()).discoverServers));

  const features = sila
    .command('features')
    .summary('The module-kind features of the catalogue.')
    .description('The module-kind features generated from the catalogue (npm run generate:features rewrites protos/features/).');
  option(features, '--write <DIR>', 'write the files to DIR instead of printing them');
  features.action(lazy(async () => (await load()).features));
}
