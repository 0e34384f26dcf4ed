/**
 * TLS material for SiLA 2 servers. A server without a certificate of its own gets a self-signed one as
 * the standard describes: CN "SiLA2", the server UUID in extension 1.3.6.1.4.1.58583 (its ASCII text
 * as the extension value), and subject alternative names for the loopback and the host.
 *
 * Node signs but does not build certificates, so the DER is written here.
 */
import { createPrivateKey, generateKeyPairSync, randomBytes, sign, X509Certificate } from 'node:crypto';
import { hostname } from 'node:os';
import { isIP } from 'node:net';
import { wallNow } from '../clock.ts';

export const SILA_UUID_EXTENSION_OID = '1.3.6.1.4.1.58583';

export interface TlsMaterial {
  certificatePem: string;
  privateKeyPem: string;
}

// --- DER writing -----------------------------------------------------------------------------

function length(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v >>= 8) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

const tlv = (tag: number, content: Buffer) => Buffer.concat([Buffer.from([tag]), length(content.length), content]);
const sequence = (...items: Buffer[]) => tlv(0x30, Buffer.concat(items));
const set = (...items: Buffer[]) => tlv(0x31, Buffer.concat(items));
const octetString = (content: Buffer) => tlv(0x04, content);
const bitString = (content: Buffer, unusedBits = 0) => tlv(0x03, Buffer.concat([Buffer.from([unusedBits]), content]));
const utf8String = (text: string) => tlv(0x0c, Buffer.from(text, 'utf8'));
const boolean = (value: boolean) => tlv(0x01, Buffer.from([value ? 0xff : 0x00]));
const explicit = (tagNumber: number, content: Buffer) => tlv(0xa0 | tagNumber, content);

function integer(bytes: Buffer): Buffer {
  let content = bytes;
  while (content.length > 1 && content[0] === 0 && content[1]! < 0x80) content = content.subarray(1);
  if (content[0]! >= 0x80) content = Buffer.concat([Buffer.from([0]), content]);
  return tlv(0x02, content);
}

function oid(dotted: string): Buffer {
  const parts = dotted.split('.').map(Number);
  const bytes = [parts[0]! * 40 + parts[1]!];
  for (const part of parts.slice(2)) {
    const chunk: number[] = [];
    let v = part;
    do {
      chunk.unshift(v & 0x7f);
      v = Math.floor(v / 128);
    } while (v > 0);
    for (let i = 0; i < chunk.length - 1; i++) chunk[i]! |= 0x80;
    bytes.push(...chunk);
  }
  return tlv(0x06, Buffer.from(bytes));
}

/** UTCTime through 2049, GeneralizedTime after, as RFC 5280 requires. */
function time(date: Date): Buffer {
  const iso = date.toISOString().replace(/[-:T]/g, '').slice(0, 14);
  return date.getUTCFullYear() < 2050 ? tlv(0x17, Buffer.from(`${iso.slice(2)}Z`)) : tlv(0x18, Buffer.from(`${iso}Z`));
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return sequence(oid(id), ...(critical ? [boolean(true)] : []), octetString(value));
}

function ipBytes(address: string): Buffer {
  if (isIP(address) === 4) return Buffer.from(address.split('.').map(Number));
  const [head = '', tail = ''] = address.split('::');
  const groups = (s: string) => (s ? s.split(':') : []);
  const h = groups(head);
  const t = groups(tail);
  const all = address.includes('::') ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
  return Buffer.concat(all.map((g) => Buffer.from(g.padStart(4, '0'), 'hex')));
}

export interface SelfSignedOptions {
  serverUuid: string;
  /** Extra host names or IP addresses the certificate is valid for (loopback and this host are always in). */
  hosts?: string[];
  validDays?: number;
}

/** A self-signed SiLA 2 server certificate (ECDSA P-256, SHA-256). */
export function createSelfSignedCertificate(options: SelfSignedOptions): TlsMaterial {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const ecdsaWithSha256 = sequence(oid('1.2.840.10045.4.3.2'));
  const name = sequence(set(sequence(oid('2.5.4.3'), utf8String('SiLA2'))));
  // A certificate's validity is wall time, checked against the peers' wall clocks.
  const now = wallNow();
  const validity = sequence(time(new Date(now - 60_000)), time(new Date(now + (options.validDays ?? 3650) * 86_400_000)));

  const hosts = new Set(['localhost', 'SiLA2', '127.0.0.1', '::1', hostname(), ...(options.hosts ?? [])]);
  const altNames = [...hosts].map((h) => (isIP(h) ? tlv(0x87, ipBytes(h)) : tlv(0x82, Buffer.from(h, 'ascii'))));
  const extensions = explicit(
    3,
    sequence(
      extension('2.5.29.19', true, sequence(boolean(true))), // basicConstraints: CA, so clients can trust it as its own root
      extension('2.5.29.15', true, bitString(Buffer.from([0x84]), 2)), // keyUsage: digitalSignature, keyCertSign
      extension('2.5.29.37', false, sequence(oid('1.3.6.1.5.5.7.3.1'))), // extendedKeyUsage: serverAuth
      extension('2.5.29.17', false, sequence(...altNames)),
      extension(SILA_UUID_EXTENSION_OID, false, Buffer.from(options.serverUuid, 'ascii')),
    ),
  );
  const tbs = sequence(explicit(0, integer(Buffer.from([2]))), integer(randomBytes(16)), ecdsaWithSha256, name, validity, name, spki, extensions);
  const signature = sign('sha256', tbs, privateKey);
  const der = sequence(tbs, ecdsaWithSha256, bitString(signature));
  return {
    certificatePem: toPem('CERTIFICATE', der),
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

function toPem(label: string, der: Buffer): string {
  const base64 = der.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${base64}\n-----END ${label}-----\n`;
}

// --- DER reading (just enough to find one extension) ----------------------------------------------

interface Node {
  tag: number;
  content: Buffer;
}

function children(content: Buffer): Node[] {
  const nodes: Node[] = [];
  let i = 0;
  while (i < content.length) {
    const tag = content[i++]!;
    let len = content[i++]!;
    if (len & 0x80) {
      const count = len & 0x7f;
      len = 0;
      for (let k = 0; k < count; k++) len = len * 256 + content[i++]!;
    }
    nodes.push({ tag, content: content.subarray(i, i + len) });
    i += len;
  }
  return nodes;
}

/** The server UUID a SiLA certificate carries, or undefined when it has none. */
export function serverUuidFromCertificate(certificate: string | Buffer): string | undefined {
  const der = typeof certificate === 'string' ? Buffer.from(new X509Certificate(certificate).raw) : certificate;
  const [cert] = children(der);
  const [tbs] = children(cert?.content ?? Buffer.alloc(0));
  const extensionsField = children(tbs?.content ?? Buffer.alloc(0)).find((n) => n.tag === 0xa3);
  if (!extensionsField) return undefined;
  const wanted = oid(SILA_UUID_EXTENSION_OID);
  for (const ext of children(children(extensionsField.content)[0]?.content ?? Buffer.alloc(0))) {
    const parts = children(ext.content);
    const id = parts[0];
    if (id && Buffer.concat([Buffer.from([id.tag]), length(id.content.length), id.content]).equals(wanted)) {
      const value = parts.at(-1)!;
      return value.content.toString('ascii');
    }
  }
  return undefined;
}

/** Checks that a key and certificate given by the user belong together, before a server starts with them. */
export function assertKeyMatchesCertificate(material: TlsMaterial): void {
  const certificate = new X509Certificate(material.certificatePem);
  if (!certificate.checkPrivateKey(createPrivateKey(material.privateKeyPem))) {
    throw new Error('the TLS private key does not belong to the certificate');
  }
}
