/**
 * The `workcell` command: parses the command line against the command tree of program.ts and runs
 * the command named, whose code loads only then.
 */
import { CommanderError } from 'commander';
import { workcellProgram } from './program.ts';
import { CommandLineError, exitStatusOf, reportFailure } from './usage.ts';

export async function main(argv: string[]): Promise<number> {
  const program = workcellProgram();
  if (argv.length === 0) {
    program.outputHelp();
    return 2;
  }
  // commander's help command takes one name: `workcell help sila call` is `workcell sila call --help`.
  const words = argv[0] === 'help' && argv.length > 2 ? [...argv.slice(1), '--help'] : argv;
  try {
    await program.parseAsync(words, { from: 'user' });
  } catch (error) {
    if (error instanceof CommandLineError) return reportFailure(error.command, error);
    // Help that was asked for exits 0; help printed because a command needs a subcommand, 2.
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    throw error;
  }
  return exitStatusOf(program) ?? 0;
}
