/**
 * Writing a file a user named with `--out`. A slip of the keyboard (`--out run.db`) must not replace a
 * database of patient records with a printout of one of them, so a database is never written over,
 * nor the files SQLite and Workcell keep beside it; any other existing file only with `--force`. The
 * text goes to a temporary file in the same directory first and is renamed into place, so a reader
 * never sees half a file and a failure leaves the old one as it was.
 */
import { closeSync, existsSync, fsyncSync, openSync, readSync, realpathSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join, resolve } from 'node:path';

const SQLITE_HEADER = Buffer.from('SQLite format 3\u0000', 'latin1');

/** Files that belong to a database `name`: SQLite's journals and shared memory, and the checkpoint key. */
const COMPANIONS = ['-wal', '-shm', '-journal', '.key'];

function isSqliteFile(file: string): boolean {
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    const head = Buffer.alloc(SQLITE_HEADER.length);
    return readSync(fd, head, 0, head.length, 0) === head.length && head.equals(SQLITE_HEADER);
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** The path with symbolic links resolved, as far as it exists. */
function realPath(file: string): string {
  try {
    return realpathSync(file);
  } catch {
    return resolve(file);
  }
}

/**
 * Writes `text` to `file` through a temporary file and a rename. Refused: a SQLite database (by its
 * header, wherever a link points), a companion of `database` (the log the command reads), a directory,
 * and any other existing file unless `force`.
 */
export function writeOutputFile(file: string, text: string, options: { force: boolean; database?: string }): void {
  const target = resolve(file);
  const real = realPath(target);
  if (options.database) {
    const database = realPath(options.database);
    if (real === database) throw new Error(`refusing to write over ${file}: it is a SQLite database, the one this command reads; name another file`);
    const companion = COMPANIONS.find((suffix) => real === `${database}${suffix}`);
    if (companion) throw new Error(`refusing to write over ${file}: it belongs to the database ${options.database}; name another file`);
  }
  if (existsSync(real)) {
    if (statSync(real).isDirectory()) throw new Error(`cannot write ${file}: it is a directory`);
    if (isSqliteFile(real)) throw new Error(`refusing to write over ${file}: it is a SQLite database (a log of records, perhaps); name another file`);
    if (!options.force) throw new Error(`${file} exists; give --force to replace it, or name another file`);
  }
  const directory = dirname(target);
  if (!existsSync(directory)) throw new Error(`cannot write ${file}: no directory ${directory}`);
  const temporary = join(directory, `.${basename(target)}.${randomBytes(6).toString('hex')}.tmp`);
  let fd: number | undefined;
  try {
    // 'wx': never through a file (or link) that appeared in the meantime. Records are personal data: 0600.
    fd = openSync(temporary, 'wx', 0o600);
    writeSync(fd, text);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(temporary, target);
  } catch (error) {
    if (fd !== undefined) closeSync(fd);
    rmSync(temporary, { force: true });
    const code = (error as NodeJS.ErrnoException).code;
    throw new Error(`cannot write ${file}: ${code === 'EACCES' || code === 'EPERM' ? 'permission denied' : code ?? (error as Error).message}`);
  }
}
