/**
 * The `workcell` command tree: every command with its description, arguments and options, from which
 * commander prints the help, `completion` writes the shell completions and `docs cli` the reference.
 * Building it loads no command's code (see `lazy` in usage.ts).
 */
import { Help, type Argument, type Command, type Option } from 'commander';
import { CONVENTIONS, ENVIRONMENT } from './conventions.ts';
import { defineBatchCommands } from './define-batches.ts';
import { defineDeviceCommands } from './define-devices.ts';
import { definePlanCommand } from './define-plan.ts';
import { defineRecordCommands } from './define-records.ts';
import { defineServeCommand } from './define-serve.ts';
import { argument, everyCommand, helpDetails, lazy, synopsis, WorkcellCommand } from './usage.ts';

function conventionsHelp(): string {
  const width = Math.max(...ENVIRONMENT.map(([name]) => name.length));
  const wrap = (paragraph: string) => new Help().boxWrap(paragraph, 80);
  return ['Conventions:', ...CONVENTIONS.map(wrap), ['Environment variables:', ...ENVIRONMENT.map(([name, meaning]) => `  ${name.padEnd(width)}  ${meaning}`)].join('\n')].join('\n\n');
}

function withDetails(description: string, item: Option | Argument): string {
  const details = helpDetails(item);
  return details.length > 0 ? `${description} (${details.join('; ')})` : description;
}

export function workcellProgram(): Command {
  const program = new WorkcellCommand('workcell')
    .description('Orchestrates robotic workcells for cell and gene therapy manufacturing: one electronic batch record per patient.')
    .exitOverride()
    .configureOutput({ outputError: () => undefined })
    .configureHelp({
      subcommandTerm: (command) => command.name(),
      optionDescription: (o) => withDetails(o.description, o),
      argumentDescription: (a) => withDetails(a.description, a),
    })
    .helpOption('-h, --help', 'Print this help.')
    .helpCommand('help [COMMAND]', "Print a command's help.")
    .addHelpText('after', `\n${conventionsHelp()}`);
  defineBatchCommands(program);
  defineRecordCommands(program);
  defineDeviceCommands(program);
  definePlanCommand(program);
  defineServeCommand(program);

  const completion = program
    .command('completion')
    .summary('Print a bash or zsh completion script.')
    .description("Prints a completion script for the shell, generated from these commands. bash: source <(workcell completion bash), or save it in ~/.local/share/bash-completion/completions/workcell. zsh: save it as _workcell in a directory of $fpath.");
  argument(completion, '<SHELL>', 'bash or zsh', 'name the shell: bash or zsh');
  completion.registeredArguments[0]!.argChoices = ['bash', 'zsh'];
  completion.action(lazy(async () => (await import('./completion.ts')).completion));

  const schema = program
    .command('schema')
    .summary('Print the JSON Schema of the log entries or of the live status.')
    .description('entries: the contract every copy of the log keeps (MQTT, PostgreSQL, the API): one JSON Schema document with the entry envelope and one definition per entry type, each field titled and described, with its unit (docs/records/entries.schema.json). status: the live status view a running orchestrator writes, which workcell status --json and the MQTT status topic carry (docs/records/status.schema.json). See docs/records/README.md.');
  argument(schema, '<WHAT>', 'entries or status', 'name what: entries or status');
  schema.registeredArguments[0]!.argChoices = ['entries', 'status'];
  schema.action(lazy(async () => (await import('./schema.ts')).schema));

  const docs = program.command('docs', { hidden: true }).description('Print the reference of the commands as Markdown (npm run docs:cli writes docs/cli.md).');
  argument(docs, '<TOPIC>', 'cli', 'name the topic: cli');
  docs.action(lazy(async () => (await import('./docs.ts')).docs));

  for (const command of everyCommand(program)) command.usage(synopsis(command));
  return program;
}
