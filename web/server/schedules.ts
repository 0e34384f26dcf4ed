/**
 * The schedules a batch may be started on over the API: the schedule files of one directory, named by
 * file name. An operator's request (an MES's) names a schedule, never a path, so the server reads no file
 * outside that directory, whatever the name says (`..`, an absolute path elsewhere, a symbolic link out);
 * a refusal names the directory and reads nothing, so it tells nothing of what lies outside.
 *
 * The directory is `workcell serve --schedules DIR`; without it, the `schedules` directory beside the
 * layout file the workcell last ran on (for a layout in a `layouts` directory, as in this repository,
 * the `schedules` directory beside that one). A CDMO keeps its approved schedules under change control
 * next to the layout they were validated on; a directory a batch once ran from (a draft in someone's
 * home directory, say) is not thereby approved, so the run's own schedule files do not widen it.
 */
import { existsSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { validateSources } from '../../config/validate.ts';
import { formatDiagnostic, YamlSource } from '../../config/source.ts';
import { ApiError } from './api.ts';

const SCHEDULE_FILE = /\.ya?ml$/;

/** The directory batches are started from: the configured one, else the default beside the layout. */
export function schedulesDirectory(configured: string | undefined, layoutFile: string | undefined): string {
  if (configured !== undefined) {
    // Checked when the server starts; it may be moved or removed while it serves.
    if (!existsSync(configured) || !readingDirectory(configured, () => statSync(configured).isDirectory())) throw new ApiError(409, `the schedules directory ${configured} (workcell serve --schedules) is not there any more`);
    return configured;
  }
  if (layoutFile === undefined) throw new ApiError(409, 'the log records no run: there is no workcell to start a batch on, nor a layout to find its schedules beside (start the first with workcell run, or serve with --schedules DIR)');
  const beside = [join(dirname(layoutFile), 'schedules'), ...(basename(dirname(layoutFile)) === 'layouts' ? [join(dirname(dirname(layoutFile)), 'schedules')] : [])];
  const found = beside.find((dir) => existsSync(dir) && readingDirectory(dir, () => statSync(dir).isDirectory()));
  if (!found) throw new ApiError(409, `no schedules directory beside the layout ${layoutFile} (looked for ${beside.join(' and ')}): start workcell serve with --schedules DIR, the directory of the schedules batches may be started on`);
  return resolve(found);
}

/**
 * The file a requested schedule names: a file of `directory`, by its name (or a path to it, relative to
 * the directory or absolute). Anything else is refused (400) before the file system is asked about it.
 */
export function scheduleFileIn(directory: string, name: string): string {
  return readingDirectory(directory, () => scheduleFileOf(directory, name));
}

function scheduleFileOf(directory: string, name: string): string {
  const root = realpathSync(directory);
  const outside = () => new ApiError(400, `'${name}' is not a schedule of ${directory}: batches are started on the schedules of that directory, named by file name (GET /api/schedules lists them)`);
  const file = isAbsolute(name) ? resolve(name) : resolve(root, name);
  if (![resolve(directory), root].includes(dirname(file)) || !SCHEDULE_FILE.test(file) || name.includes('\0')) throw outside();
  if (!existsSync(file)) throw new ApiError(400, `no schedule '${basename(file)}' in ${directory} (GET /api/schedules lists them)`);
  // A symbolic link in the directory may name another of its files, never one elsewhere.
  const real = realpathSync(file);
  if (dirname(real) !== root || !statSync(real).isFile()) throw outside();
  return real;
}

export interface ScheduleListing {
  /** The file name to start a batch with (`schedule` of POST /api/batches). */
  name: string;
  id: string | null;
  version: string | null;
  /** The schedule's own name: the process in words. */
  title: string | null;
  /** The therapy (product) it makes, if the schedule says. */
  product: string | null;
  /** It is a valid schedule that fits the layout the workcell runs on. */
  startable: boolean;
  /** What stands in the way (FILE:LINE:COL: message), when not startable. */
  problems: string[];
}

/** Every schedule of the directory, checked as a start would check it: against the layout the workcell runs on. */
export function listSchedules(directory: string, layoutFile: string | undefined): ScheduleListing[] {
  const files = readingDirectory(directory, () => scheduleFilesOf(directory));
  if (files.length === 0) return [];
  const sources = files.map(({ file }) => YamlSource.read(file));
  // A layout among the schedules is no schedule, and no layout they are checked against either.
  const isLayout = (source: YamlSource) => typeof source.data === 'object' && source.data !== null && 'layout' in source.data;
  const { diagnostics } = validateSources([...(layoutFile ? [YamlSource.read(layoutFile)] : []), ...sources.filter((source) => !isLayout(source))]);
  return files.map(({ name, file }, i) => {
    const source = sources[i]!;
    const data = source.data as { schedule?: Record<string, unknown> } | null | undefined;
    const field = (key: string) => (typeof data?.schedule?.[key] === 'string' ? (data.schedule[key] as string) : null);
    const problems = isLayout(source) ? [`${file}:1:1: a layout, not a schedule`] : diagnostics.filter((d) => d.file === file && d.severity === 'error').map(formatDiagnostic);
    if (!layoutFile) problems.push('the log records no run: there is no layout to check it against, nor a workcell to start it on');
    return { name, id: field('id'), version: field('version'), title: field('name'), product: field('product'), startable: problems.length === 0, problems };
  });
}

/** The schedule files of the directory by name, each with the file it is: a link that leads out of it is none. */
function scheduleFilesOf(directory: string): Array<{ name: string; file: string }> {
  const root = realpathSync(directory);
  return readdirSync(root)
    .filter((name) => SCHEDULE_FILE.test(name))
    .sort()
    .flatMap((name) => {
      const real = realTarget(join(root, name));
      return real !== undefined && dirname(real) === root && statSync(real).isFile() ? [{ name, file: real }] : [];
    });
}

const WHAT_IS_WRONG: Record<string, string> = {
  EACCES: 'may not be read by the server (permission denied)',
  EPERM: 'may not be read by the server (operation not permitted)',
  ENOENT: 'is not there any more',
  ENOTDIR: 'is no longer a directory',
  ELOOP: 'is a loop of symbolic links',
};

/**
 * Runs a read of the schedules directory. What the file system refuses (a directory the server may not
 * read, one removed or replaced by a file since it was looked at) is the site's to put right: a 409 naming
 * the directory and what is wrong, not a 500 with a stack trace.
 */
function readingDirectory<T>(directory: string, read: () => T): T {
  try {
    return read();
  } catch (error) {
    const { code, path } = error as NodeJS.ErrnoException;
    if (error instanceof ApiError || typeof code !== 'string') throw error;
    const what = path !== undefined && resolve(path) !== resolve(directory) ? path : 'it';
    throw new ApiError(409, `the schedules directory ${directory} cannot be read: ${what} ${WHAT_IS_WRONG[code] ?? `gives the error ${code}`}`);
  }
}

/** Where a file (or the link it is) leads; undefined for a link to nothing. */
function realTarget(file: string): string | undefined {
  try {
    return realpathSync(file);
  } catch {
    return undefined;
  }
}
