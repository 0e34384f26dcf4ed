import { validateFiles, errorCount } from '../config/validate.ts';
import { formatDiagnostic } from '../config/source.ts';
import { parseArgs, option } from './args.ts';
import { UsageError, type Command } from './main.ts';

export const validateCommand: Command = {
  name: 'validate',
  summary: 'Check layouts and schedules, and that each schedule fits each layout (FILE:LINE:COL: message per error).',
  usage: 'workcell validate FILE... [--today YYYY-MM-DD] [--quiet]',
  async run(args) {
    const parsed = parseArgs(args, { options: ['today'], flags: ['quiet'] });
    if (parsed.positional.length === 0) throw new UsageError('name at least one layout or schedule file');
    const today = option(parsed, 'today');
    if (today !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(today)) throw new UsageError('--today takes a date written YYYY-MM-DD');
    const result = validateFiles(parsed.positional, { today });
    for (const d of result.diagnostics) process.stdout.write(`${formatDiagnostic(d)}\n`);
    const errors = errorCount(result.diagnostics);
    if (!parsed.flags.has('quiet')) {
      const warnings = result.diagnostics.length - errors;
      const pairs = result.layouts.length * result.schedules.length;
      process.stderr.write(
        `${parsed.positional.length} file(s): ${result.layouts.length} layout(s), ${result.schedules.length} schedule(s)` +
          (pairs ? `, ${pairs} layout/schedule pair(s) checked` : '') +
          `; ${errors} error(s), ${warnings} warning(s)\n`,
      );
    }
    return errors > 0 ? 1 : 0;
  },
};
