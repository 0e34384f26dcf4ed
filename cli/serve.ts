/** `workcell serve`. */
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { buildApp } from '../web/app/build.ts';
import { serverCertificate } from '../web/server/certificate.ts';
import { isLoopback, startHmiServer } from '../web/server/app.ts';
import { DEFAULT_SESSION_LIMITS } from '../web/server/sessions.ts';
import { existingDatabase } from './database.ts';
import { UsageError } from './usage.ts';

interface ServeOptions {
  db?: string;
  postgres?: string;
  schedules?: string;
  host?: string;
  port?: string;
  tlsCert?: string;
  tlsKey?: string;
  insecure?: boolean;
  idleMinutes?: string;
}

export async function serve(_args: [], options: ServeOptions): Promise<number> {
  const host = options.host ?? '127.0.0.1';
  const port = Number(options.port ?? 8443);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new UsageError(`--port takes a port number (0 to 65535), not '${options.port}'`);
  const idleMinutes = Number(options.idleMinutes ?? 15);
  if (!(idleMinutes > 0)) throw new UsageError('--idle-minutes takes a positive number');
  if (options.insecure && (options.tlsCert || options.tlsKey)) throw new UsageError('give --insecure or --tls-cert/--tls-key, not both');
  if (options.insecure && !isLoopback(host)) throw new UsageError(`--insecure serves plain HTTP, on a loopback address only (127.0.0.1, ::1, localhost), not ${host}: serve ${host} over HTTPS (without --insecure)`);
  const database = existingDatabase(options.db);
  const schedules = options.schedules === undefined ? undefined : resolve(options.schedules);
  if (schedules !== undefined && !(existsSync(schedules) && statSync(schedules).isDirectory())) throw new UsageError(`--schedules names the directory of the schedules batches may be started on; ${schedules} is not a directory`);
  const certificate = options.insecure ? undefined : await serverCertificate({ database, host, certFile: options.tlsCert, keyFile: options.tlsKey });
  const assets = mkdtempSync(join(tmpdir(), 'workcell-hmi-'));
  await buildApp(assets);
  const server = await startHmiServer({ database, host, port, tls: certificate, assets, postgres: options.postgres, schedules, sessionLimits: { ...DEFAULT_SESSION_LIMITS, idleMs: idleMinutes * 60_000 } });
  const lines = [`Serving the HMI of ${database} at ${server.url}/`];
  if (certificate) lines.push(`Certificate${certificate.file ? ` ${certificate.file}` : ''}, SHA-256 fingerprint ${certificate.fingerprint}`);
  else lines.push('Plain HTTP on loopback (--insecure): for scripts on this computer only.');
  lines.push('Stop with Ctrl-C.');
  process.stdout.write(`${lines.join('\n')}\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await server.close();
  rmSync(assets, { recursive: true, force: true });
  return 0;
}
