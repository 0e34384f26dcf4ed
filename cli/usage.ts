/**
 * What every command definition shares: the usage error, the `workcell` command class that words
 * commander's parse errors as Workcell always has, options with their help, and the lazy action that
 * loads a command's code only when it runs (`workcell validate` never pays for the OPC UA stack).
 * Imports nothing heavier than commander, so that building the whole command tree stays cheap.
 */
import { Command, Help, Option, type Argument } from 'commander';
import { describeFileError } from '../config/file-errors.ts';

/** Thrown by a command for bad arguments: printed with the command's usage line, exit status 2. */
export class UsageError extends Error {}

/** A usage error found while parsing, with the command it belongs to (for its usage line). */
export class CommandLineError extends UsageError {
  constructor(readonly command: Command, message: string) {
    super(message);
  }
}

/** The database of `workcell run` and every command after it, in the working directory. */
export const DEFAULT_DATABASE = 'workcell.db';

/** Messages for a missing argument, as each command words it ("name one batch"). */
const missingMessages = new WeakMap<Argument, string>();
/** Options a command cannot do without: shown in its usage line (the command itself checks them). */
const requiredOptions = new WeakSet<Option>();
/** Options that may be given more than once, each value kept. */
const repeatableOptions = new WeakSet<Option>();

/** Commander's command, with Workcell's words for parse errors (`unknown option --x`, `--db needs a value`). */
export class WorkcellCommand extends Command {
  override createCommand(name?: string): WorkcellCommand {
    return new WorkcellCommand(name);
  }

  /** Every parse error becomes a usage error naming this command; nothing is printed here. */
  override error(message: string): never {
    const words = message
      .replace(/^error: /, '')
      .replace(/^unknown option '(.*)'/, 'unknown option $1')
      .replace(/\n\(Did you mean (.*)\?\)$/, ' (did you mean $1?)');
    throw new CommandLineError(this, words);
  }

  // The methods below replace commander's internal ones of the same names.
  unknownOption(flag: string): never {
    const name = flag.split('=')[0]!;
    const known = this.options.find((o) => o.long === name);
    if (known && flag.includes('=') && known.isBoolean()) this.error(`${name} takes no value`);
    if (!flag.startsWith('--')) this.error(`unknown option ${flag}`);
    // commander adds "did you mean" before calling error()
    return (Command.prototype as unknown as { unknownOption(this: Command, f: string): never }).unknownOption.call(this, flag);
  }

  optionMissingArgument(option: Option): never {
    this.error(`${option.long} needs a value`);
  }

  missingArgument(name: string): never {
    const argument = this.registeredArguments.find((a) => a.name() === name);
    this.error((argument && missingMessages.get(argument)) ?? `name the ${name}`);
  }

  /** Too many arguments: the arguments' own message when they share one ("name one batch"), else the first extra. */
  _excessArguments(received: string[]): never {
    const messages = new Set(this.registeredArguments.map((a) => missingMessages.get(a)));
    const shared = messages.size === 1 ? [...messages][0] : undefined;
    this.error(shared ?? `unexpected argument '${received[this.registeredArguments.length]}'`);
  }

  /** `workcell help NAME` for a command there is none of: said so, not the whole list of commands. */
  _dispatchHelpCommand(name: string | undefined): unknown {
    if (name && !this.commands.some((c) => c.name() === name)) return this.unknownCommand(name);
    return (Command.prototype as unknown as { _dispatchHelpCommand(this: Command, n?: string): unknown })._dispatchHelpCommand.call(this, name);
  }

  unknownCommand(name = this.args[0]): never {
    this.error(this.parent ? `unknown ${this.name()} command '${name}'` : `unknown command '${name}'`);
  }
}

/** `<NAME>` (required) or `[NAME]`, `NAME...` for several; `missing` is the message when it is not given. */
export function argument(command: Command, name: string, help: string, missing?: string): void {
  command.argument(name, help);
  if (missing) missingMessages.set(command.registeredArguments.at(-1)!, missing);
}

export interface OptionSpec {
  /** The value when the option is not given. */
  default?: string;
  /** What help says the default is, when it is not a fixed value ("ports the OS picks"). */
  shownDefault?: string;
  /** The values it takes (checked by the command, which says what each means). */
  choices?: readonly string[];
  /** The command needs it: shown in the usage line. */
  required?: boolean;
  /** Given once per value (`--batch A --batch B`); otherwise the last one given counts. */
  repeat?: boolean;
  /** A value written without the option's value (`--lock` alone). */
  preset?: string;
}

/** An option with its help; `flags` as commander writes them: `--db <FILE>`, `--sim`, `--lock [SECONDS]`. */
export function option(command: Command, flags: string, help: string, spec: OptionSpec = {}): Command {
  const o = new Option(flags, help);
  if (spec.default !== undefined) o.default(spec.default, spec.shownDefault ?? spec.default);
  else if (spec.shownDefault !== undefined) o.defaultValueDescription = spec.shownDefault;
  if (spec.choices) o.argChoices = [...spec.choices];
  if (spec.preset !== undefined) o.preset(spec.preset);
  if (spec.required) requiredOptions.add(o);
  if (spec.repeat) {
    repeatableOptions.add(o);
    o.argParser((value: string, previous: string[] | undefined) => [...(previous ?? []), value]);
  }
  return command.addOption(o);
}

export const isRequired = (o: Option) => requiredOptions.has(o);
export const isRepeatable = (o: Option) => repeatableOptions.has(o);

/** `--db FILE`: the run's database. */
export function databaseOption(command: Command, help = "the run's database"): Command {
  return option(command, '--db <FILE>', help, { default: DEFAULT_DATABASE });
}

/** Where a password comes from, never the command line itself: `--password-env VAR`, `--password-file FILE`. */
export function passwordOptions(command: Command, whose: string, variable: string, prefix = 'password'): Command {
  option(command, `--${prefix}-env <VAR>`, `${whose} from the environment variable VAR (else ${variable}, else a hidden prompt)`);
  return option(command, `--${prefix}-file <FILE>`, `${whose} from the file (its content without a final newline)`);
}

/** `--reason`, `--user`, the signer's password and `--db`: every signed action takes them. */
export function signerOptions(command: Command): Command {
  option(command, '--reason <TEXT>', 'why: recorded with the signature', { required: true });
  option(command, '--user <NAME>', 'the user id of the signer (an enrolled operator)', { required: true });
  passwordOptions(command, "the signer's password", 'WORKCELL_PASSWORD');
  return databaseOption(command);
}

/**
 * A command's code, loaded when it runs: given its arguments (as declared), its options, and the
 * command itself. `any`: each command declares the types of its own arguments and options.
 */
export type Action = (args: any, options: any, command: Command) => Promise<number>;

/** The exit status of the command that ran, by the program it ran in. */
const exitStatuses = new WeakMap<Command, number>();

/** The action of a command: loads `load`'s code, runs it with the parsed arguments and options, keeps its exit status. */
export function lazy(load: () => Promise<Action>) {
  return async (...params: unknown[]) => {
    const command = params.at(-1) as Command;
    let status: number;
    try {
      status = await (await load())(command.processedArgs, command.opts(), command);
    } catch (error) {
      status = reportFailure(command, error);
    }
    exitStatuses.set(root(command), status);
  };
}

/**
 * One line saying what is wrong, never a stack trace: a usage error (exit status 2) with the
 * command's usage line and where its options are listed; anything else with exit status 1.
 */
export function reportFailure(command: Command, error: unknown): number {
  const path = commandPath(command);
  if (error instanceof UsageError) {
    process.stderr.write(`${path}: ${error.message}\nusage: ${path} ${command.usage()}\nRun '${path} --help' for every option.\n`);
    return 2;
  }
  process.stderr.write(`${path}: ${describeError(error)}\n`);
  return 1;
}

/** A file system error in words, naming its path ("cannot open x.pem: no such file"); others as they are. */
export function describeError(error: unknown): string {
  return describeFileError(error) ?? (error as Error).message ?? String(error);
}

export function exitStatusOf(program: Command): number | undefined {
  return exitStatuses.get(program);
}

export function root(command: Command): Command {
  return command.parent ? root(command.parent) : command;
}

/** `workcell sila call`: a command with the commands above it. */
export function commandPath(command: Command): string {
  return command.parent ? `${commandPath(command.parent)} ${command.name()}` : command.name();
}

/** The usage line: the command, its arguments, the options it cannot do without, then `[options]`. */
export function synopsis(command: Command): string {
  const args = command.registeredArguments.map((a) => {
    const name = `${a.name()}${a.variadic ? '...' : ''}`;
    return a.required ? name : `[${name}]`;
  });
  const required = command.options.filter(isRequired).map((o) => `${o.long} ${valueName(o)}`);
  const commands = command.commands.length > 0 ? ['COMMAND'] : [];
  return [...commands, ...args, ...required, '[options]'].join(' ');
}

/** `FILE` of `--db <FILE>`; '' for a flag. */
export function valueName(o: Option): string {
  return (/<(.+)>/.exec(o.flags) ?? /\[(.+)\]/.exec(o.flags))?.[1] ?? '';
}

/** The parenthesis after an option's or argument's help: its values, default, and whether it repeats or is needed. */
export function helpDetails(item: Option | Argument): string[] {
  const details: string[] = [];
  if (item.argChoices) details.push(`one of: ${item.argChoices.join(', ')}`);
  if (item.defaultValueDescription !== undefined) details.push(`default: ${item.defaultValueDescription}`);
  if ('long' in item && isRepeatable(item)) details.push('repeatable');
  if ('long' in item && isRequired(item)) details.push('required');
  return details;
}

/** The command and every command below it, depth first, in the order they are listed. */
export function everyCommand(command: Command): Command[] {
  return [command, ...command.commands.flatMap(everyCommand)];
}

/** The commands a user sees: not hidden ones, not commander's own help command. */
export function visibleCommands(command: Command): Command[] {
  return new Help().visibleCommands(command).filter((c) => c.name() !== 'help');
}
