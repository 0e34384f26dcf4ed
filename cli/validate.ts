import { validateFiles, errorCount } from '../config/validate.ts';
import { formatDiagnostic } from '../config/source.ts';
import { UsageError } from './usage.ts';

/** Findings printed unless --all. */
export const FINDINGS_SHOWN = 1000;

/** `workcell validate FILE...`. */
export async function validate([files]: [string[]], parsed: { today?: string; quiet?: boolean; all?: boolean }): Promise<number> {
  const today = parsed.today;
  if (today !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(today)) throw new UsageError('--today takes a date written YYYY-MM-DD');
  const result = validateFiles(files, { today });
  // A generated file with a mistake repeated 400,000 times is read from the first findings, not the last.
  const shown = parsed.all ? result.diagnostics : result.diagnostics.slice(0, FINDINGS_SHOWN);
  process.stdout.write(shown.map((d) => `${formatDiagnostic(d)}\n`).join(''));
  const hidden = result.diagnostics.length - shown.length;
  if (hidden > 0) process.stdout.write(`... and ${hidden.toLocaleString('en-US')} more findings (workcell validate --all lists every one)\n`);
  const errors = errorCount(result.diagnostics);
  if (!parsed.quiet) {
    const warnings = result.diagnostics.length - errors;
    const pairs = result.layouts.length * result.schedules.length;
    process.stderr.write(
      `${files.length} file(s): ${result.layouts.length} layout(s), ${result.schedules.length} schedule(s)` +
        (pairs ? `, ${pairs} layout/schedule pair(s) checked` : '') +
        `; ${errors} error(s), ${warnings} warning(s)\n`,
    );
  }
  return errors > 0 ? 1 : 0;
}
