/** File-system errors in words a user reads ("cannot read layouts/x.yaml: no such file"). */

const FILE_ERRORS: Readonly<Record<string, string>> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EISDIR: 'it is a directory',
  ENOTDIR: 'a part of the path is not a directory',
  ELOOP: 'too many symbolic links',
  ENAMETOOLONG: 'the name is too long',
  EMFILE: 'too many open files',
};

/** The reason of a file-system error in words (its code when there are none). */
export function fileErrorReason(error: NodeJS.ErrnoException): string {
  return (error.code && FILE_ERRORS[error.code]) ?? error.code ?? error.message;
}

/** "cannot open x.pem: no such file" for a file-system error that names its path; undefined for any other error. */
export function describeFileError(error: unknown): string | undefined {
  const failure = error as NodeJS.ErrnoException;
  if (!(error instanceof Error) || typeof failure.code !== 'string' || typeof failure.path !== 'string') return undefined;
  const verb = failure.syscall === 'open' ? 'open' : failure.syscall === 'mkdir' ? 'create' : failure.syscall === 'write' ? 'write' : 'read';
  return `cannot ${verb} ${failure.path}: ${fileErrorReason(failure)}`;
}
