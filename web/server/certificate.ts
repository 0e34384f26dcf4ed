/**
 * The HTTPS certificate of `workcell serve`: the one given (--tls-cert, --tls-key), or a self-signed one
 * made the first time a database is served and kept beside it (FILE.web/), so that a browser or script
 * that trusted it once keeps trusting it, as a SiLA server's is. The private key is readable by its owner only.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import { assertKeyMatchesCertificate, createSelfSignedCertificate, type TlsMaterial } from '../../drivers/sila2/tls.ts';
import { createPrivately } from '../../orchestrator/event-log.ts';

/** Where the server keeps what belongs to one database: certificate, key, sessions. */
export function serverDirectory(database: string): string {
  const directory = `${database}.web`;
  mkdirSync(directory, { recursive: true, mode: 0o700 });
  return directory;
}

export interface ServerCertificate extends TlsMaterial {
  /** SHA-256 fingerprint, as browsers show it (AA:BB:...). */
  fingerprint: string;
  /** Where the certificate is, for clients to trust (undefined when given by the user in memory). */
  file?: string;
}

export async function serverCertificate(options: { database: string; host: string; certFile?: string; keyFile?: string }): Promise<ServerCertificate> {
  if ((options.certFile === undefined) !== (options.keyFile === undefined)) throw new Error('give both --tls-cert and --tls-key, or neither (a self-signed certificate is then made and kept beside the database)');
  if (options.certFile && options.keyFile) {
    const material = { certificatePem: readFileSync(options.certFile, 'utf8'), privateKeyPem: readFileSync(options.keyFile, 'utf8') };
    assertKeyMatchesCertificate(material);
    return { ...material, fingerprint: new X509Certificate(material.certificatePem).fingerprint256, file: options.certFile };
  }
  const directory = serverDirectory(options.database);
  const certFile = join(directory, 'https-cert.pem');
  const keyFile = join(directory, 'https-key.pem');
  if (!existsSync(certFile) || !existsSync(keyFile)) {
    const made = await createSelfSignedCertificate({ commonName: 'workcell-hmi', hosts: [options.host] });
    createPrivately(keyFile);
    writeFileSync(keyFile, made.privateKeyPem, { mode: 0o600 });
    writeFileSync(certFile, made.certificatePem);
  }
  const material = { certificatePem: readFileSync(certFile, 'utf8'), privateKeyPem: readFileSync(keyFile, 'utf8') };
  const certificate = new X509Certificate(material.certificatePem);
  // A kept certificate made for another host name would be refused by every browser: say so plainly.
  const wildcard = options.host === '0.0.0.0' || options.host === '::';
  if (!wildcard && !certificate.checkHost(options.host) && !certificate.checkIP(options.host)) {
    throw new Error(`the certificate kept in ${certFile} is not valid for ${options.host}: delete ${certFile} and ${keyFile} to make a new one, or give --tls-cert and --tls-key`);
  }
  return { ...material, fingerprint: certificate.fingerprint256, file: certFile };
}
