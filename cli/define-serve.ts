/** `workcell serve`: the operator and QA web HMI and its API. */
import type { Command } from 'commander';
import { databaseOption, lazy, option } from './usage.ts';

export function defineServeCommand(program: Command): void {
  const serve = program
    .command('serve')
    .summary('Serve the web HMI and its API (HTTPS) for operators, QA and MES/LIMS.')
    .description(
      [
        "Serves the operator and QA screens and their JSON API (OpenAPI 3.1 at /api/openapi.json) over HTTPS, reading the same log the orchestrator writes: the workcell live, holds answered with a signature, batch records reviewed by exception and signed by QA, the timeline, the audit trail and the operators. Operators log in with their user id and password (the same lockout as signatures); every action is checked against their roles and signed through the same operations as the CLI.",
        'Without --tls-cert and --tls-key a self-signed certificate is made the first time and kept beside the database (FILE.web/https-cert.pem); the URL and its SHA-256 fingerprint are printed, for browsers and scripts to trust. Plain HTTP only with --insecure, and only on a loopback address; a non-loopback --host is refused without TLS. Stops on Ctrl-C or SIGTERM.',
      ].join('\n\n'),
    );
  databaseOption(serve);
  option(serve, '--postgres <URL>', 'the site copy in PostgreSQL, for the site view (every mirrored workcell)');
  option(serve, '--schedules <DIR>', 'the directory of the schedules batches may be started on over the API, by file name (default: the schedules directory beside the layout the workcell last ran on)');
  option(serve, '--host <ADDRESS>', 'the address to listen on', { default: '127.0.0.1' });
  option(serve, '--port <N>', 'the port (0: one the OS picks)', { default: '8443' });
  option(serve, '--tls-cert <FILE>', 'the HTTPS certificate (PEM), with --tls-key');
  option(serve, '--tls-key <FILE>', 'its private key (PEM)');
  option(serve, '--insecure', 'plain HTTP, on a loopback address only (for scripts on this computer)');
  option(serve, '--idle-minutes <N>', 'a session nobody used for this long ends (a screen left open, refreshing itself, is no use)', { default: '15' });
  serve.action(lazy(async () => (await import('./serve.ts')).serve));
}
