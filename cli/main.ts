/**
 * The `workcell` command. Subcommands load on demand, so that `workcell validate` does not pay for
 * the OPC UA stack it never uses.
 */
import { describeFileError } from '../config/file-errors.ts';

export interface Command {
  name: string;
  summary: string;
  usage: string;
  run(args: string[]): Promise<number>;
}

const commands: Array<{ name: string; summary: string; load(): Promise<Command> }> = [
  { name: 'demo', summary: 'Four simulated patients through the 4-lane example workcell (what npm start runs).', load: async () => (await import('./run.ts')).demoCommand },
  { name: 'run', summary: 'Run patient batches through a workcell (simulated in-process with --sim).', load: async () => (await import('./run.ts')).runCommand },
  { name: 'resume', summary: 'Continue every unfinished batch of a database after a stop or crash.', load: async () => (await import('./run.ts')).resumeCommand },
  { name: 'status', summary: "Each batch's step, module, state and expected finish; module states; holds and alarms.", load: async () => (await import('./records.ts')).statusCommand },
  { name: 'holds', summary: 'List batches waiting for an operator.', load: async () => (await import('./records.ts')).holdsCommand },
  { name: 'resolve', summary: "Answer a batch's hold: retry, skip or abort, with reason, signed.", load: async () => (await import('./records.ts')).resolveCommand },
  { name: 'hold', summary: 'Hold a batch at its next safe point, signed.', load: async () => (await import('./operations.ts')).holdCommand },
  { name: 'module', summary: "Take a module out of service or back (signed); re-read a module's state.", load: async () => (await import('./operations.ts')).moduleCommand },
  { name: 'remove', summary: "Record that a quarantined batch's stuck material was taken out by hand (signed).", load: async () => (await import('./records.ts')).removeCommand },
  { name: 'review', summary: "QA's signed review of a finished batch's record: approve for release or reject.", load: async () => (await import('./records.ts')).reviewCommand },
  { name: 'operators', summary: 'Enrol, disable and list the operators who sign; change a password.', load: async () => (await import('./operators.ts')).operatorsCommand },
  { name: 'record', summary: "Print a batch's merged electronic batch record.", load: async () => (await import('./records.ts')).recordCommand },
  { name: 'publish', summary: "Publish a run's entries and live status to an MQTT broker as they are written.", load: async () => (await import('./records.ts')).publishCommand },
  { name: 'mirror', summary: "Copy a database's entries to PostgreSQL, chain-checked (--follow keeps copying).", load: async () => (await import('./records.ts')).mirrorCommand },
  { name: 'verify', summary: 'Recompute every hash chain of a database, or of the logs mirrored to PostgreSQL.', load: async () => (await import('./records.ts')).verifyCommand },
  { name: 'validate', summary: 'Check layouts and schedules, and that each schedule fits each layout.', load: async () => (await import('./validate.ts')).validateCommand },
  { name: 'summary', summary: 'Validate layouts and schedules (default: the shipped examples) and summarise each.', load: async () => (await import('./summary.ts')).summaryCommand },
  { name: 'sila', summary: 'Browse, call and discover SiLA 2 servers; print .proto; generate module features.', load: async () => (await import('./sila.ts')).silaCommand },
  { name: 'opcua', summary: 'Browse an OPC UA LADS server.', load: async () => (await import('./opcua.ts')).opcuaCommand },
  { name: 'sim', summary: 'Start simulators for every module of a layout on their configured endpoints.', load: async () => (await import('./sim.ts')).simCommand },
];

export async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(usage());
    return name ? 0 : 2;
  }
  const entry = commands.find((c) => c.name === name);
  if (!entry) {
    process.stderr.write(`workcell: unknown command '${name}'\n\n${usage()}`);
    return 2;
  }
  const command = await entry.load();
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(`usage: ${command.usage}\n\n${command.summary}\n`);
    return 0;
  }
  try {
    return await command.run(args);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`workcell ${name}: ${error.message}\nusage: ${command.usage}\n`);
      return 2;
    }
    process.stderr.write(`workcell ${name}: ${describeError(error)}\n`);
    return 1;
  }
}

/** A file system error in words, naming its path ("cannot open x.pem: no such file"); others as they are. */
export function describeError(error: unknown): string {
  return describeFileError(error) ?? (error as Error).message ?? String(error);
}

function usage(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return `usage: workcell COMMAND [ARGS]\n\n${commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}\n\nRun 'workcell COMMAND --help' for a command's options.\n`;
}

/** Thrown by a command for bad arguments: printed with the command's usage, exit status 2. */
export class UsageError extends Error {}
