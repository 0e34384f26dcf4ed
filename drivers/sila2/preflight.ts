/**
 * The client's own TLS (or TCP) handshake before gRPC's, at connect and whenever the connection keeps
 * failing: gRPC reports every handshake failure as "unavailable" (and a waiting call only as a missed
 * deadline), while this says what is wrong: nothing listening, an untrusted certificate, TLS on one
 * side only.
 */
import { connect as tlsConnect, checkServerIdentity, type PeerCertificate } from 'node:tls';
import { isIP } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { SilaConnectionError } from './errors.ts';
import { WALL_CLOCK } from '../clock.ts';

export interface TransportOptions {
  host: string;
  port: number;
  /** PEM of the CA to trust; without it, the system's trusted CAs. */
  ca?: string;
  insecure?: boolean;
  connectTimeoutMs?: number;
}

/** The certificate could not be verified against the trusted CAs. */
export class UntrustedCertificateError extends SilaConnectionError {
  override name = 'UntrustedCertificateError';
}

/** TLS and plain text were mixed up between client and server. */
export class TransportSecurityError extends SilaConnectionError {
  override name = 'TransportSecurityError';
}

const CERTIFICATE_ERRORS = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'CERT_SIGNATURE_FAILURE', 'ERR_TLS_CERT_ALTNAME_INVALID', 'CERT_UNTRUSTED',
]);

/** SiLA servers with self-signed certificates use CN "SiLA2" rather than a host name; the CA check still applies. */
export function silaServerIdentity(host: string, certificate: PeerCertificate): Error | undefined {
  const error = checkServerIdentity(host, certificate);
  return error && certificate.subject?.CN !== 'SiLA2' ? error : undefined;
}

/**
 * Opens one TLS (or TCP) connection before gRPC does, because gRPC reports every handshake failure as
 * "unavailable". Returns the server certificate (DER) when TLS is used.
 */
export async function preflight(options: TransportOptions): Promise<Buffer | undefined> {
  const where = `${options.host}:${options.port}`;
  const timeout = options.connectTimeoutMs ?? 5000;
  const attempt = (verify: boolean) =>
    new Promise<{ certificate: Buffer } | { error: NodeJS.ErrnoException }>((resolve) => {
      const socket = tlsConnect({
        host: options.host,
        port: options.port,
        servername: isIP(options.host) ? undefined : options.host,
        ca: verify ? options.ca : undefined,
        rejectUnauthorized: verify,
        checkServerIdentity: silaServerIdentity,
        ALPNProtocols: ['h2'],
      });
      // A socket timeout is wall time, whatever clock the client's calls run on.
      const timer = WALL_CLOCK.setTimeout(() => socket.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })), timeout);
      socket.once('secureConnect', () => {
        WALL_CLOCK.clearTimeout(timer);
        const certificate = socket.getPeerCertificate(false).raw;
        socket.destroy();
        resolve({ certificate });
      });
      socket.once('error', (error: NodeJS.ErrnoException) => {
        WALL_CLOCK.clearTimeout(timer);
        socket.destroy();
        resolve({ error });
      });
    });

  if (options.insecure) {
    const probe = await attempt(false);
    if ('certificate' in probe) {
      throw new TransportSecurityError(`the server at ${where} requires TLS; refusing to talk plain text to it. Trust its certificate instead (--ca FILE)`, grpc.status.UNAVAILABLE);
    }
    if (probe.error.code === 'ECONNREFUSED') throw new SilaConnectionError(`nothing is listening at ${where}`, grpc.status.UNAVAILABLE);
    return undefined;
  }
  const probe = await attempt(true);
  if ('certificate' in probe) return probe.certificate;
  const { error } = probe;
  if (error.code === 'ECONNREFUSED') throw new SilaConnectionError(`nothing is listening at ${where}`, grpc.status.UNAVAILABLE);
  if (error.code === 'ETIMEDOUT') throw new SilaConnectionError(`no answer from ${where} within ${timeout} ms`, grpc.status.DEADLINE_EXCEEDED);
  if (error.code && CERTIFICATE_ERRORS.has(error.code)) {
    throw new UntrustedCertificateError(
      `the certificate of ${where} is not trusted (${error.code}: ${error.message}). Pass the server's CA certificate (--ca FILE); untrusted certificates are never accepted silently`,
      grpc.status.UNAUTHENTICATED,
    );
  }
  throw new TransportSecurityError(`no TLS handshake with ${where} (${error.code ?? error.message}); the server may be running without TLS, which SiLA 2 allows only for testing (--insecure)`, grpc.status.UNAVAILABLE);
}

