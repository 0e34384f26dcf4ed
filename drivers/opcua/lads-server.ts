/**
 * Simulated laboratory devices exposed through the OPC UA LADS model (OPC 30500) on node-opcua.
 *
 * The device (programs, results, sensor values) lives in a plain model (lads-device-model.ts); the OPC UA
 * server is only its interface (lads-address-space.ts). Restarting the server, as a real device's endpoint
 * might, leaves running programs running and keeps their results, so clients can be tested against
 * restarts honestly.
 *
 * Secured by default: SignAndEncrypt (Basic256Sha256, Aes128_Sha256_RsaOaep), user-name login, no
 * anonymous access, client certificates trusted only when listed. Security None only with `allowNone`.
 */
import './logging.ts';
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { MessageSecurityMode, nodesets, OPCUACertificateManager, OPCUAServer, SecurityPolicy, type AddressSpace } from 'node-opcua';
import { buildLadsAddressSpace, type AddressSpaceOptions } from './lads-address-space.ts';
import { DeviceModel, type DeviceSpec, type FunctionalUnitModel } from './lads-device-model.ts';
import { WALL_CLOCK, type Clock } from '../clock.ts';

export { DI_NAMESPACE, LADS_NAMESPACE, SIMULATION_NAMESPACE } from './lads-address-space.ts';
export type { DeviceSpec, FunctionalUnitSpec, LadsState, ProgramContext, ProgramResult, SensorSpec } from './lads-device-model.ts';

const NODESETS = [nodesets.standard, nodesets.di, nodesets.ia, nodesets.amb, nodesets.machinery, nodesets.lads];

export interface LadsServerOptions extends AddressSpaceOptions {
  /** 0: a port the OS picks at the first start, kept across restarts. */
  port: number;
  /** The only address listened on (127.0.0.1 by default), as on a device with one network interface. */
  host?: string;
  /** PKI folder of the server (its certificate, trusted and rejected client certificates). */
  pkiFolder: string;
  /** User names and passwords accepted; there is no anonymous access. */
  users: Record<string, string>;
  /** Offer security mode None as well. For testing only. */
  allowNone?: boolean;
  devices: DeviceSpec[];
  /** Adds nodes that are not LADS (a plain vendor model) after the devices are built. */
  extend?: (addressSpace: AddressSpace) => void;
}

export class LadsServer {
  private server: OPCUAServer | undefined;
  private certificateManager: OPCUACertificateManager | undefined;
  readonly devices: DeviceModel[];
  private readonly detach: Array<() => void> = [];
  private boundPort: number | undefined;

  private get clock(): Clock {
    return this.options.clock ?? WALL_CLOCK;
  }

  constructor(readonly options: LadsServerOptions) {
    this.devices = options.devices.map((d) => new DeviceModel(d, this.clock));
  }

  /** The port listened on: the configured one, or the one the OS picked once started. */
  get port(): number {
    return this.boundPort ?? this.options.port;
  }

  get endpointUrl(): string {
    return `opc.tcp://${this.host}:${this.port}`;
  }

  private get host(): string {
    return this.options.host ?? '127.0.0.1';
  }

  /** The server certificate (DER) clients must trust. */
  async certificate(): Promise<Buffer> {
    await this.ensureCertificateManager();
    return this.server ? (this.server.getCertificate() as Buffer) : Buffer.alloc(0);
  }

  private async ensureCertificateManager(): Promise<OPCUACertificateManager> {
    if (!this.certificateManager) {
      mkdirSync(this.options.pkiFolder, { recursive: true });
      this.certificateManager = new OPCUACertificateManager({ rootFolder: this.options.pkiFolder, automaticallyAcceptUnknownCertificate: false });
      await this.certificateManager.initialize();
    }
    return this.certificateManager;
  }

  /** Trusts a client application certificate (DER). */
  async trustClientCertificate(certificate: Buffer): Promise<void> {
    const manager = await this.ensureCertificateManager();
    await manager.trustCertificate(certificate);
  }

  async start(): Promise<void> {
    const certificateManager = await this.ensureCertificateManager();
    const modes = [MessageSecurityMode.SignAndEncrypt, MessageSecurityMode.Sign, ...(this.options.allowNone ? [MessageSecurityMode.None] : [])];
    const policies = [SecurityPolicy.Basic256Sha256, SecurityPolicy.Aes128_Sha256_RsaOaep, SecurityPolicy.Aes256_Sha256_RsaPss, ...(this.options.allowNone ? [SecurityPolicy.None] : [])];
    const users = this.options.users;
    const server = new OPCUAServer({
      port: this.port,
      // `host` is what the socket binds; `hostname` only names the endpoints it advertises.
      host: this.host,
      hostname: this.host,
      alternateHostname: ['127.0.0.1', 'localhost'],
      serverCertificateManager: certificateManager,
      securityModes: modes,
      securityPolicies: policies,
      allowAnonymous: false,
      userManager: { isValidUser: (user: string, password: string) => users[user] !== undefined && users[user] === password },
      nodeset_filename: NODESETS,
      buildInfo: { productName: 'Workcell simulated LADS devices', manufacturerName: 'Workcell', softwareVersion: '1.0.0' },
      // Stable for the device's certificate: its configured port, or its PKI folder when the OS picks the port.
      serverInfo: { applicationUri: `urn:workcell:lads:${this.options.port || createHash('sha256').update(this.options.pkiFolder).digest('hex').slice(0, 16)}`, productUri: 'urn:workcell:lads' },
      maxConnectionsPerEndpoint: 50,
    });
    await server.initialize();
    this.detach.push(...buildLadsAddressSpace(server.engine.addressSpace!, this.devices, this.options));
    this.options.extend?.(server.engine.addressSpace!);
    await server.start();
    this.boundPort = server.endpoints[0]?.port ?? this.options.port;
    this.server = server;
  }

  /** Stops the OPC UA endpoint; the devices keep running. */
  async stop(): Promise<void> {
    for (const d of this.detach.splice(0)) d();
    await this.server?.shutdown(0);
    this.server = undefined;
  }

  /** Restarts the endpoint on the same port and certificate, over the same live devices. */
  async restart(downtimeMs = 0): Promise<void> {
    await this.stop();
    if (downtimeMs) await this.clock.sleep(downtimeMs);
    await this.start();
  }

  unit(device: string, unit: string): FunctionalUnitModel {
    const found = this.devices.find((d) => d.spec.name === device)?.units.find((u) => u.spec.name === unit);
    if (!found) throw new Error(`no functional unit ${device}/${unit}`);
    return found;
  }
}
