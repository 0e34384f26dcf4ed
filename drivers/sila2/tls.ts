/**
 * TLS material for SiLA 2 servers. A server without a certificate of its own gets a self-signed one as
 * the standard describes: CN "SiLA2", the server UUID in extension 1.3.6.1.4.1.58583 (its ASCII text
 * as the extension value), and subject alternative names for the loopback and the host.
 */
import 'reflect-metadata';
import { createPrivateKey, randomBytes, webcrypto, X509Certificate } from 'node:crypto';
import { hostname } from 'node:os';
import { isIP } from 'node:net';
import * as x509 from '@peculiar/x509';
import { wallNow } from '../clock.ts';

export const SILA_UUID_EXTENSION_OID = '1.3.6.1.4.1.58583';

export interface TlsMaterial {
  certificatePem: string;
  privateKeyPem: string;
}

export interface SelfSignedOptions {
  /** The SiLA server UUID the certificate carries (extension 1.3.6.1.4.1.58583); none for a server of another protocol. */
  serverUuid?: string;
  /** The subject's common name: "SiLA2" as the standard wants, unless given. */
  commonName?: string;
  /** Extra host names or IP addresses the certificate is valid for (loopback and this host are always in). */
  hosts?: string[];
  validDays?: number;
}

// Node's webcrypto is the standard Crypto; the library's types name the DOM one, which this build leaves out.
const crypto = webcrypto as unknown as Parameters<typeof x509.X509CertificateGenerator.createSelfSigned>[1];
const ECDSA_P256 = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const ECDSA_SHA256 = { name: 'ECDSA', hash: 'SHA-256' } as const;

/**
 * A self-signed server certificate (ECDSA P-256, SHA-256), its own CA so that clients can trust it as
 * their root: a SiLA 2 server's by default, and the web HMI's (`workcell serve`) with its own name.
 */
export async function createSelfSignedCertificate(options: SelfSignedOptions): Promise<TlsMaterial> {
  const keys = await webcrypto.subtle.generateKey(ECDSA_P256, true, ['sign', 'verify']);
  const commonName = options.commonName ?? 'SiLA2';
  const hosts = new Set(['localhost', commonName, '127.0.0.1', '::1', hostname(), ...(options.hosts ?? [])]);
  // Wall-clock time, not a workcell clock: certificate validity is checked against the real date.
  const now = new Date(wallNow());
  const certificate = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: positiveSerial(),
      name: new x509.Name([{ CN: [{ utf8String: commonName }] }]),
      notBefore: new Date(now.getTime() - 60_000),
      notAfter: new Date(now.getTime() + (options.validDays ?? 3650) * 86_400_000),
      signingAlgorithm: ECDSA_SHA256,
      keys,
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyCertSign, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
        new x509.SubjectAlternativeNameExtension([...hosts].map((h) => ({ type: isIP(h) ? ('ip' as const) : ('dns' as const), value: h })), false),
        ...(options.serverUuid === undefined ? [] : [new x509.Extension(SILA_UUID_EXTENSION_OID, false, Buffer.from(options.serverUuid, 'ascii'))]),
      ],
    },
    crypto,
  );
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  return {
    certificatePem: `${certificate.toString('pem').replace(/\r\n/g, '\n')}\n`,
    privateKeyPem: createPrivateKey({ key: Buffer.from(pkcs8), format: 'der', type: 'pkcs8' }).export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

/** 16 random bytes, high bit clear and next bit set: positive and minimally encoded, as RFC 5280 wants. */
function positiveSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) | 0x40;
  return bytes.toString('hex');
}

/** The server UUID a SiLA certificate carries, or undefined when it has none. */
export function serverUuidFromCertificate(certificate: string | Buffer): string | undefined {
  const extension = new x509.X509Certificate(certificate).getExtension(SILA_UUID_EXTENSION_OID);
  return extension ? Buffer.from(extension.value).toString('ascii') : undefined;
}

/** Checks that a key and certificate given by the user belong together, before a server starts with them. */
export function assertKeyMatchesCertificate(material: TlsMaterial): void {
  const certificate = new X509Certificate(material.certificatePem);
  if (!certificate.checkPrivateKey(createPrivateKey(material.privateKeyPem))) {
    throw new Error('the TLS private key does not belong to the certificate');
  }
}
