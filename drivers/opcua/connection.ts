/**
 * Opening an OPC UA session on node-opcua the way Workcell requires: security mode and policy from the
 * layout (None only when asked for), a PKI folder whose trust list is never extended automatically,
 * user-name or anonymous login, and connection failures explained in terms a user can act on.
 */
import './logging.ts';
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { MessageSecurityMode, OPCUACertificateManager, OPCUAClient, SecurityPolicy, UserTokenType, type ClientSession, type UserIdentityInfo } from 'node-opcua';
import type { Clock } from '../clock.ts';

export type SecurityModeName = 'None' | 'Sign' | 'SignAndEncrypt';
export type SecurityPolicyName = 'Basic256Sha256' | 'Aes128_Sha256_RsaOaep' | 'Aes256_Sha256_RsaPss';

export interface OpcUaConnectionOptions {
  endpoint: string;
  /** Default SignAndEncrypt. */
  securityMode?: SecurityModeName;
  /** Default Basic256Sha256. */
  securityPolicy?: SecurityPolicyName;
  /** Security mode None is refused unless this is set (the layout must say `mode: None` explicitly). */
  allowInsecure?: boolean;
  /** Where the application certificate and the trust list live. */
  pkiFolder: string;
  /** User name login; anonymous without it. */
  user?: { name: string; password: string };
  applicationName?: string;
  /** How long to keep trying to reconnect after a connection is lost (default: for ever). */
  reconnectForMs?: number;
  /** The clock of the driver's polls; the wall clock by default. */
  clock?: Clock;
}

export class OpcUaError extends Error {
  override name = 'OpcUaError';
}

/** The server's certificate is not in the trust list. */
export class UntrustedServerError extends OpcUaError {
  override name = 'UntrustedServerError';
}

/** A PKI folder's certificate manager: unknown certificates go to `rejected/`, never to the trust list. */
async function certificateManagerFor(pkiFolder: string): Promise<OPCUACertificateManager> {
  mkdirSync(pkiFolder, { recursive: true });
  const certificateManager = new OPCUACertificateManager({ rootFolder: pkiFolder, automaticallyAcceptUnknownCertificate: false });
  await certificateManager.initialize();
  return certificateManager;
}

/** A connected client with its session; reconnection after a loss keeps trying for `reconnectForMs`. */
export async function openSession(options: OpcUaConnectionOptions): Promise<{ client: OPCUAClient; session: ClientSession }> {
  const mode = options.securityMode ?? 'SignAndEncrypt';
  if (mode === 'None' && !options.allowInsecure) {
    throw new OpcUaError(`refusing security mode None for ${options.endpoint}: it neither signs nor encrypts. Set it explicitly (layout: security.mode None) only for testing`);
  }
  const certificateManager = await certificateManagerFor(options.pkiFolder);
  const client = OPCUAClient.create({
    applicationName: options.applicationName ?? 'Workcell',
    applicationUri: `urn:workcell:${options.applicationName ?? 'Workcell'}`,
    securityMode: MessageSecurityMode[mode],
    securityPolicy: mode === 'None' ? SecurityPolicy.None : SecurityPolicy[options.securityPolicy ?? 'Basic256Sha256'],
    endpointMustExist: true,
    clientCertificateManager: certificateManager,
    keepSessionAlive: true,
    requestedSessionTimeout: 60_000,
    // The first connection fails fast; reconnection after a loss keeps trying (see below).
    connectionStrategy: { maxRetry: 0, initialDelay: 100, maxDelay: 1000 },
  });
  await client.createDefaultCertificate();
  try {
    await client.connect(options.endpoint);
  } catch (error) {
    throw explainConnectFailure(options, error as Error, certificateManager);
  }
  (client as unknown as { connectionStrategy: { maxRetry: number; maxDelay: number } }).connectionStrategy = { maxRetry: options.reconnectForMs === undefined ? 1e9 : Math.ceil(options.reconnectForMs / 1000), initialDelay: 100, maxDelay: 1000 } as never;
  const identity: UserIdentityInfo = options.user ? { type: UserTokenType.UserName, userName: options.user.name, password: options.user.password } : { type: UserTokenType.Anonymous };
  try {
    return { client, session: await client.createSession(identity) };
  } catch (error) {
    await client.disconnect();
    const message = (error as Error).message;
    if (/BadUserAccessDenied|BadIdentityTokenRejected|BadIdentityTokenInvalid|ANONYMOUS user token policy/.test(message)) {
      throw new OpcUaError(options.user ? `the server refused user '${options.user.name}': wrong user name or password` : 'the server refuses anonymous sessions; configure a user (credentials.user with passwordEnv or passwordFile)');
    }
    throw new OpcUaError(`cannot open a session on ${options.endpoint}: ${message}`);
  }
}

/**
 * This application's certificate in `pkiFolder` (created once, then kept), so that it can be added
 * to a server's trust list before the first connection.
 */
export async function applicationCertificate(pkiFolder: string, applicationName = 'Workcell'): Promise<Buffer> {
  const certificateManager = await certificateManagerFor(pkiFolder);
  const client = OPCUAClient.create({ applicationName, applicationUri: `urn:workcell:${applicationName}`, clientCertificateManager: certificateManager });
  await client.createDefaultCertificate();
  return client.getCertificate() as Buffer;
}

/** Adds a server certificate (DER) to this application's trust list. */
export async function trustServerCertificate(pkiFolder: string, certificate: Buffer): Promise<void> {
  const certificateManager = new OPCUACertificateManager({ rootFolder: pkiFolder, automaticallyAcceptUnknownCertificate: false });
  await certificateManager.initialize();
  await certificateManager.trustCertificate(certificate);
}

function explainConnectFailure(options: OpcUaConnectionOptions, error: Error, certificateManager: OPCUACertificateManager): Error {
  const message = error.message;
  const rejectedFolder = join(certificateManager.rootDir, 'rejected');
  const rejected = safeList(rejectedFolder);
  if (/certificate|BadCertificate|BadSecurityChecksFailed/i.test(message) && rejected.length) {
    return new UntrustedServerError(
      `the certificate of ${options.endpoint} is not trusted; it was stored in ${rejectedFolder}. To trust it, move it to ${join(certificateManager.rootDir, 'trusted', 'certs')} (untrusted certificates are never accepted automatically)`,
    );
  }
  if (/BadSecurityChecksFailed/.test(message)) {
    return new OpcUaError(`the server at ${options.endpoint} refused this client's certificate; add ${join(certificateManager.rootDir, 'own', 'certs')}'s certificate to the server's trust list`);
  }
  if (/endpoint/i.test(message) && /not|cannot|exist/i.test(message)) {
    return new OpcUaError(`the server at ${options.endpoint} offers no endpoint with security ${options.securityMode ?? 'SignAndEncrypt'}/${options.securityPolicy ?? 'Basic256Sha256'}`);
  }
  if (/ECONNREFUSED|connect|Connection/i.test(message)) return new OpcUaError(`cannot reach ${options.endpoint}: ${message}`);
  return new OpcUaError(`cannot connect to ${options.endpoint}: ${message}`);
}

function safeList(folder: string): string[] {
  try {
    return readdirSync(folder);
  } catch {
    return [];
  }
}
