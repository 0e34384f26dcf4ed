/** Driver settings from a layout module: security, PKI folder, credentials (never a password in YAML). */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { ModuleConfig } from '../../config/layout.ts';
import { OpcUaError, type OpcUaConnectionOptions } from './connection.ts';
import type { ArgumentType, PlainMapping } from './plain-mapping.ts';
import { DEFAULT_PKI_FOLDER } from './pki-folder.ts';

export { DEFAULT_PKI_FOLDER };

export function opcuaOptionsFromLayout(module: ModuleConfig, layoutDirectory: string, environment: NodeJS.ProcessEnv = process.env): OpcUaConnectionOptions {
  const opcua = module.connection.opcua;
  if (!opcua) throw new OpcUaError(`module '${module.id}' is not connected over OPC UA`);
  const credentials = opcua.credentials;
  let user: OpcUaConnectionOptions['user'];
  if (credentials?.user) {
    let password: string | undefined;
    if (credentials.passwordEnv) {
      password = environment[credentials.passwordEnv];
      if (password === undefined) throw new OpcUaError(`module '${module.id}': environment variable ${credentials.passwordEnv} (credentials.passwordEnv) is not set`);
    } else if (credentials.passwordFile) {
      const file = resolve(layoutDirectory, credentials.passwordFile);
      try {
        password = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
      } catch (error) {
        throw new OpcUaError(`module '${module.id}': cannot read the password file ${file} (${(error as NodeJS.ErrnoException).code})`);
      }
    }
    user = { name: credentials.user, password: password ?? '' };
  }
  return {
    endpoint: opcua.endpoint,
    securityMode: opcua.security.mode,
    securityPolicy: opcua.security.policy ?? 'Basic256Sha256',
    // The layout's schema requires the mode to be written; None there is the explicit choice.
    allowInsecure: opcua.security.mode === 'None',
    pkiFolder: resolve(layoutDirectory, opcua.pki ?? DEFAULT_PKI_FOLDER),
    user,
    applicationName: 'Workcell',
  };
}

export function plainMappingFromLayout(module: ModuleConfig): PlainMapping | undefined {
  const mapping = module.connection.opcua?.mapping;
  if (!mapping) return undefined;
  return {
    capabilities: Object.fromEntries(
      Object.entries(mapping.capabilities).map(([name, c]) => [name, { ...c, arguments: c.arguments.map((a) => ({ parameter: a.parameter, type: a.type as ArgumentType })) }]),
    ),
    telemetry: Object.fromEntries(Object.entries(mapping.telemetry ?? {}).map(([channel, t]) => [channel, { variable: t.variable, samplingIntervalMs: t.samplingIntervalMs }])),
    state: mapping.state,
  };
}
