import 'reflect-metadata';
import { execFileSync } from 'node:child_process';
import { X509Certificate, webcrypto } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkServerIdentity, connect, createServer } from 'node:tls';
import * as x509 from '@peculiar/x509';
import { describe, expect, it } from 'vitest';
import { assertKeyMatchesCertificate, createSelfSignedCertificate, serverUuidFromCertificate, SILA_UUID_EXTENSION_OID, type TlsMaterial } from '../../drivers/sila2/tls.ts';
import { SilaServer } from '../../drivers/sila2/server.ts';

const UUID = '6a1f2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';

/** A TLS handshake with a server holding `material`, the client trusting only `ca` and checking `servername` as Node does. */
async function handshake(material: TlsMaterial, ca: string, servername: string): Promise<{ authorized: boolean; error?: string }> {
  const server = createServer({ key: material.privateKeyPem, cert: material.certificatePem }, (socket) => socket.end());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  try {
    return await new Promise((resolve) => {
      const socket = connect({ host: '127.0.0.1', port, ca, servername }, () => {
        resolve({ authorized: socket.authorized });
        socket.end();
      });
      socket.on('error', (e) => resolve({ authorized: false, error: e.message }));
    });
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
}

describe('the self-signed SiLA 2 server certificate', () => {
  it('carries CN SiLA2, CA constraints, server authentication, the loopback names, this host and the server UUID', async () => {
    const material = await createSelfSignedCertificate({ serverUuid: UUID, hosts: ['10.1.2.3', 'bench.example'] });
    const certificate = new X509Certificate(material.certificatePem);
    expect(certificate.subject).toBe('CN=SiLA2');
    expect(certificate.issuer).toBe('CN=SiLA2');
    expect(certificate.ca).toBe(true);
    expect(certificate.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']);
    const names = certificate.subjectAltName!.split(', ');
    expect(names).toEqual(expect.arrayContaining(['DNS:localhost', 'DNS:SiLA2', 'IP Address:127.0.0.1', 'IP Address:0:0:0:0:0:0:0:1', `DNS:${hostname()}`, 'IP Address:10.1.2.3', 'DNS:bench.example']));
    expect(certificate.publicKey.asymmetricKeyType).toBe('ec');
    expect(certificate.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(certificate.verify(certificate.publicKey)).toBe(true);
    expect(serverUuidFromCertificate(material.certificatePem)).toBe(UUID);
    expect(serverUuidFromCertificate(Buffer.from(certificate.raw))).toBe(UUID);
    expect(() => assertKeyMatchesCertificate(material)).not.toThrow();
    expect(material.privateKeyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    expect(material.certificatePem).toMatch(/^-----BEGIN CERTIFICATE-----\n[A-Za-z0-9+/=\n]+\n-----END CERTIFICATE-----\n$/);
  });

  it('is valid from a minute ago for ten years by default, or for the days asked', async () => {
    const before = Date.now();
    const material = await createSelfSignedCertificate({ serverUuid: UUID });
    const certificate = new X509Certificate(material.certificatePem);
    const from = Date.parse(certificate.validFrom);
    const to = Date.parse(certificate.validTo);
    expect(from).toBeLessThanOrEqual(before - 59_000);
    expect(from).toBeGreaterThan(before - 62_000);
    expect(to - from).toBeGreaterThanOrEqual(3650 * 86_400_000);
    expect(to - from).toBeLessThan(3650 * 86_400_000 + 62_000);
    const short = new X509Certificate((await createSelfSignedCertificate({ serverUuid: UUID, validDays: 2 })).certificatePem);
    expect(Date.parse(short.validTo) - Date.parse(short.validFrom)).toBeLessThan(2 * 86_400_000 + 62_000);
  });

  it('reads as openssl expects: critical CA and key usage, positive serial, the UUID as the text of its extension', async () => {
    const material = await createSelfSignedCertificate({ serverUuid: UUID });
    const folder = mkdtempSync(join(tmpdir(), 'workcell-tls-'));
    const file = join(folder, 'cert.pem');
    writeFileSync(file, material.certificatePem);
    try {
      const text = execFileSync('openssl', ['x509', '-in', file, '-noout', '-text'], { encoding: 'utf8' });
      expect(text).toMatch(/Signature Algorithm: ecdsa-with-SHA256/);
      expect(text).toMatch(/Basic Constraints: critical\s+CA:TRUE/);
      expect(text).toMatch(/Key Usage: critical\s+Digital Signature, Certificate Sign/);
      expect(text).toMatch(/Extended Key Usage:\s+TLS Web Server Authentication/);
      expect(text).toMatch(new RegExp(`${SILA_UUID_EXTENSION_OID.replace(/\./g, '\\.')}:\\s+${UUID}`));
      expect(execFileSync('openssl', ['verify', '-CAfile', file, file], { encoding: 'utf8' })).toMatch(/OK/);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
    const serial = new X509Certificate(material.certificatePem).serialNumber;
    expect(serial).toMatch(/^[4-7][0-9A-F]{31}$/);
  });

  it('makes a new key and serial each time', async () => {
    const [a, b] = await Promise.all([createSelfSignedCertificate({ serverUuid: UUID }), createSelfSignedCertificate({ serverUuid: UUID })]);
    expect(a.privateKeyPem).not.toBe(b.privateKeyPem);
    expect(new X509Certificate(a.certificatePem).serialNumber).not.toBe(new X509Certificate(b.certificatePem).serialNumber);
    expect(() => assertKeyMatchesCertificate({ certificatePem: a.certificatePem, privateKeyPem: b.privateKeyPem })).toThrow('the TLS private key does not belong to the certificate');
  });

  it('completes a TLS handshake trusted by itself as CA, for localhost and 127.0.0.1, and fails with another CA', async () => {
    const material = await createSelfSignedCertificate({ serverUuid: UUID });
    const other = await createSelfSignedCertificate({ serverUuid: UUID });
    expect(await handshake(material, material.certificatePem, 'localhost')).toEqual({ authorized: true });
    expect((await handshake(material, material.certificatePem, 'SiLA2')).authorized).toBe(true);
    const wrong = await handshake(material, other.certificatePem, 'localhost');
    expect(wrong.authorized).toBe(false);
    expect(wrong.error).toMatch(/SELF_SIGNED|self-signed|unable to verify/i);
    // An IP address is checked against the IP entries of the subject alternative names.
    const peer = { subject: { CN: 'SiLA2' }, subjectaltname: new X509Certificate(material.certificatePem).subjectAltName } as never;
    expect(checkServerIdentity('127.0.0.1', peer)).toBeUndefined();
    expect(checkServerIdentity('::1', peer)).toBeUndefined();
    expect(checkServerIdentity('192.0.2.1', peer)).toBeInstanceOf(Error);
  });

  it('has no server UUID when the certificate carries no SiLA extension', async () => {
    const crypto = webcrypto as unknown as Parameters<typeof x509.X509CertificateGenerator.createSelfSigned>[1];
    const keys = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
    const plain = await x509.X509CertificateGenerator.createSelfSigned({ name: 'CN=plain', keys, signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } as never }, crypto);
    expect(serverUuidFromCertificate(plain.toString('pem'))).toBeUndefined();
  });
});

describe('a SiLA server without a certificate of its own', () => {
  it('makes one at its first start for its UUID and host', async () => {
    const server = new SilaServer({ name: 'x', type: 'X', uuid: UUID, host: '127.0.0.1' });
    expect(() => server.certificatePem).toThrow('the server has not been started');
    await server.start();
    try {
      const pem = server.certificatePem!;
      expect(serverUuidFromCertificate(pem)).toBe(UUID);
      expect(new X509Certificate(pem).subjectAltName).toContain('IP Address:127.0.0.1');
      expect(server.certificatePem).toBe(pem);
    } finally {
      await server.stop();
    }
  });

  it('has none in insecure mode', () => {
    expect(new SilaServer({ name: 'x', type: 'X', insecure: true }).certificatePem).toBeUndefined();
  });
});
