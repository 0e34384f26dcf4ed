/**
 * `workcell validate`: syntax, then schema, then meaning, then whether each schedule fits each layout.
 * Each stage lists all of its findings; a file that fails a stage is not checked by the later ones,
 * since their findings would only be echoes of the first.
 */
import { createHash } from 'node:crypto';
import { loadCatalogue, type Catalogue } from './catalogue.ts';
import { checkAgainstSchema } from './schema-check.ts';
import { checkLayout, type LayoutCheckOptions, type LayoutModel } from './layout.ts';
import { checkSchedule, type ScheduleModel } from './schedule.ts';
import { checkFit } from './fit.ts';
import { formatDiagnostic, sortDiagnostics, YamlSource, type Diagnostic } from './source.ts';

const LAYOUT_SCHEMA = new URL('../layouts/layout.schema.json', import.meta.url);
const SCHEDULE_SCHEMA = new URL('../schedules/schedule.schema.json', import.meta.url);

export interface ValidationOptions extends LayoutCheckOptions {
  catalogue?: Catalogue;
}

export interface LoadedLayout {
  source: YamlSource;
  model: LayoutModel;
}

export interface LoadedSchedule {
  source: YamlSource;
  model: ScheduleModel;
  /** SHA-256 of the file's bytes: a batch records which exact schedule it ran. */
  contentHash: string;
}

export interface ValidationResult {
  diagnostics: Diagnostic[];
  layouts: LoadedLayout[];
  schedules: LoadedSchedule[];
}

export function errorCount(diagnostics: readonly Diagnostic[]): number {
  return diagnostics.filter((d) => d.severity === 'error').length;
}

export function validateFiles(files: readonly string[], options: ValidationOptions = {}): ValidationResult {
  return validateSources(files.map((f) => YamlSource.read(f)), options);
}

export function validateSources(sources: readonly YamlSource[], options: ValidationOptions = {}): ValidationResult {
  const catalogue = options.catalogue ?? loadCatalogue();
  const layouts: LoadedLayout[] = [];
  const schedules: LoadedSchedule[] = [];
  for (const source of sources) {
    if (!source.parsed) continue;
    const data = source.data as Record<string, unknown> | null;
    const isObject = data !== null && typeof data === 'object' && !Array.isArray(data);
    if (isObject && 'layout' in data) {
      if (checkAgainstSchema(source, LAYOUT_SCHEMA)) {
        const model = checkLayout(source, catalogue, options);
        if (!hasErrors(source)) layouts.push({ source, model });
      }
    } else if (isObject && 'schedule' in data) {
      if (checkAgainstSchema(source, SCHEDULE_SCHEMA)) {
        const model = checkSchedule(source, catalogue);
        if (!hasErrors(source)) schedules.push({ source, model, contentHash: createHash('sha256').update(source.text).digest('hex') });
      }
    } else {
      source.report({ line: 1, col: 1 }, "expected a layout (a top-level 'layout:' section) or a schedule (a top-level 'schedule:' section)");
    }
  }
  for (const layout of layouts) {
    for (const schedule of schedules) checkFit(layout.model, schedule.model, schedule.source);
  }
  const diagnostics = sortDiagnostics(sources.flatMap((s) => s.diagnostics), sources.map((s) => s.file));
  return { diagnostics, layouts, schedules };
}

function hasErrors(source: YamlSource): boolean {
  return source.diagnostics.some((d) => d.severity === 'error');
}

/** Raised by the loaders below when a file the caller relies on is not valid. */
export class ConfigError extends Error {
  constructor(readonly diagnostics: Diagnostic[]) {
    super(diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic).join('\n'));
    this.name = 'ConfigError';
  }
}

/** Loads one layout and, optionally, schedules that must fit it; throws ConfigError on any error. */
export function loadWorkcell(layoutFile: string, scheduleFiles: readonly string[] = [], options: ValidationOptions = {}): { layout: LoadedLayout; schedules: LoadedSchedule[] } {
  const result = validateFiles([layoutFile, ...scheduleFiles], options);
  if (errorCount(result.diagnostics) > 0) throw new ConfigError(result.diagnostics);
  const layout = result.layouts.find((l) => l.source.file === layoutFile);
  if (!layout) throw new ConfigError([{ file: layoutFile, line: 1, col: 1, severity: 'error', message: 'expected a layout' }]);
  const wrongKind = result.schedules.length !== scheduleFiles.length;
  if (wrongKind) throw new ConfigError(scheduleFiles.filter((f) => !result.schedules.some((s) => s.source.file === f)).map((file) => ({ file, line: 1, col: 1, severity: 'error' as const, message: 'expected a schedule' })));
  return { layout, schedules: result.schedules };
}
