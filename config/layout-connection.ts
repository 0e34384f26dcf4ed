/**
 * The connection of a layout's module: one endpoint per module, TLS or plain text but not both, OPC UA
 * security and credentials that agree, and mappings that name what the module's kind offers.
 */
import type { Catalogue } from './catalogue.ts';
import type { VendorMapping } from './vendor-mapping.ts';
import { canonicalUnit, dimensionOf, parseDuration } from './units.ts';
import { reportUnknownReference } from './references.ts';
import type { YamlPath, YamlSource } from './source.ts';

export interface Sila2Connection {
  host: string;
  port: number;
  serverUuid?: string;
  tls?: { ca?: string; certificate?: string; key?: string };
  insecure?: boolean;
  /** A vendor's own feature mapped onto the kind; Workcell's feature for the kind when absent. */
  mapping?: VendorMapping;
}

export interface OpcUaConnection {
  endpoint: string;
  security: { mode: 'None' | 'Sign' | 'SignAndEncrypt'; policy?: 'Basic256Sha256' | 'Aes128_Sha256_RsaOaep' | 'Aes256_Sha256_RsaPss' };
  pki?: string;
  credentials?: { anonymous?: boolean; user?: string; passwordEnv?: string; passwordFile?: string };
  model?: 'lads' | 'plain';
  mapping?: {
    capabilities: Record<string, { object: string[]; method: string; arguments: Array<{ parameter: string; type: string }>; results?: string[] }>;
    /** Without a sampling interval, the driver's own applies. */
    telemetry?: Record<string, { variable: string[]; samplingIntervalMs?: number }>;
    state?: { variable: string[]; model: 'PackML' | 'LADS' };
  };
}

/** An OPC UA connection as the layout file writes it: sampling intervals as quantities. */
export type OpcUaInput = Omit<OpcUaConnection, 'mapping'> & {
  mapping?: Omit<NonNullable<OpcUaConnection['mapping']>, 'telemetry'> & { telemetry?: Record<string, { variable: string[]; samplingInterval?: string | number }> };
};

/** What these checks read of a module as the layout file writes it. */
interface ModuleInput {
  id: string;
  kind: string;
  capabilities?: string[];
  connection: { sila2?: Sila2Connection; opcua?: OpcUaInput };
}

export function checkConnection(source: YamlSource, module: ModuleInput, at: YamlPath, endpoints: Map<string, string>, catalogue: Catalogue): void {
  const { sila2, opcua } = module.connection;
  let endpoint: string | undefined;
  if (sila2) {
    endpoint = `${sila2.host}:${sila2.port}`;
    if (sila2.insecure && sila2.tls) source.reportAt([...at, 'connection', 'sila2', 'insecure'], 'insecure plain text and tls contradict each other; choose one');
    if (sila2.mapping) checkVendorMapping(source, module, sila2.mapping, [...at, 'connection', 'sila2', 'mapping'], catalogue);
  }
  if (opcua) {
    endpoint = opcua.endpoint;
    const security = opcua.security;
    const secAt = [...at, 'connection', 'opcua', 'security'];
    if (security.mode === 'None' && security.policy) source.reportAt([...secAt, 'policy'], "security mode None takes no policy; remove the policy or choose Sign or SignAndEncrypt");
    const credentials = opcua.credentials;
    const credAt = [...at, 'connection', 'opcua', 'credentials'];
    if (credentials?.anonymous && credentials.user) source.reportAt(credAt, 'choose either anonymous or a user, not both');
    if (credentials?.user && !credentials.passwordEnv && !credentials.passwordFile) source.reportAt(credAt, `user '${credentials.user}' needs passwordEnv or passwordFile`);
    if (credentials?.passwordEnv && credentials.passwordFile) source.reportAt(credAt, 'choose either passwordEnv or passwordFile, not both');
    if ((credentials?.passwordEnv || credentials?.passwordFile) && !credentials.user) source.reportAt(credAt, 'a password needs a user');
    checkOpcUaMapping(source, module, opcua, [...at, 'connection', 'opcua'], catalogue);
  }
  if (!endpoint) return;
  const holder = endpoints.get(endpoint);
  if (holder) source.reportAt([...at, 'connection'], `endpoint ${endpoint} is already used by module '${holder}'`);
  else endpoints.set(endpoint, module.id);
}

/** A plain OPC UA mapping names capabilities, parameters and telemetry channels of the module's kind. */
function checkOpcUaMapping(source: YamlSource, module: ModuleInput, opcua: OpcUaInput, at: YamlPath, catalogue: Catalogue): void {
  if (opcua.model === 'plain' && !opcua.mapping) source.reportAt(at, `module '${module.id}' uses model plain and needs a mapping of its capabilities to methods`);
  if (opcua.mapping && opcua.model !== 'plain') source.reportAt([...at, 'mapping'], "a mapping is used only with 'model: plain'", 'key');
  const kind = catalogue.kind(module.kind);
  if (!opcua.mapping || !kind) return;
  for (const [capability, call] of Object.entries(opcua.mapping.capabilities)) {
    const spec = kind.capabilities[capability];
    if (!spec) {
      reportUnknownReference(source, [...at, 'mapping', 'capabilities', capability], `capability of ${kind.kind}`, capability, Object.keys(kind.capabilities));
      continue;
    }
    call.arguments.forEach((argument, i) => {
      if (!spec.parameters[argument.parameter]) reportUnknownReference(source, [...at, 'mapping', 'capabilities', capability, 'arguments', i, 'parameter'], `parameter of ${capability}`, argument.parameter, Object.keys(spec.parameters));
    });
    (call.results ?? []).forEach((result, i) => {
      if (!spec.results[result]) reportUnknownReference(source, [...at, 'mapping', 'capabilities', capability, 'results', i], `result of ${capability}`, result, Object.keys(spec.results));
    });
  }
  for (const channel of Object.keys(opcua.mapping.telemetry ?? {})) {
    const known = Object.values(kind.capabilities).flatMap((c) => Object.keys(c.telemetry));
    if (!known.includes(channel)) reportUnknownReference(source, [...at, 'mapping', 'telemetry', channel], `telemetry channel of ${kind.kind}`, channel, [...new Set(known)]);
  }
}

/** A vendor mapping names capabilities, parameters and results of the module's kind, in compatible units. */
function checkVendorMapping(source: YamlSource, module: ModuleInput, mapping: VendorMapping, at: YamlPath, catalogue: Catalogue): void {
  const kind = catalogue.kind(module.kind);
  if (!kind) return;
  const offered = module.capabilities ?? Object.keys(kind.capabilities);
  const unmapped = offered.filter((c) => !mapping.capabilities[c]);
  if (unmapped.length) source.reportAt([...at, 'capabilities'], `module '${module.id}' offers ${unmapped.join(', ')}, which the mapping does not map to a command of ${mapping.feature}`);
  for (const [capability, call] of Object.entries(mapping.capabilities)) {
    const spec = kind.capabilities[capability];
    const cAt = [...at, 'capabilities', capability];
    if (!spec) {
      reportUnknownReference(source, cAt, `capability of ${kind.kind}`, capability, Object.keys(kind.capabilities));
      continue;
    }
    const fields: Array<['parameters' | 'results', Record<string, { name: string; unit?: string }> | undefined, Record<string, { unit?: string }>]> = [
      ['parameters', call.parameters, spec.parameters],
      ['results', call.results, spec.results],
    ];
    for (const [group, mapped, known] of fields) {
      for (const [name, field] of Object.entries(mapped ?? {})) {
        if (!known[name]) {
          reportUnknownReference(source, [...cAt, group, name], `${group === 'parameters' ? 'parameter' : 'result'} of ${capability}`, name, Object.keys(known));
          continue;
        }
        const catalogueUnit = known[name]!.unit;
        if (field.unit !== undefined) {
          if (!canonicalUnit(field.unit)) source.reportAt([...cAt, group, name, 'unit'], `unknown unit '${field.unit}'`);
          else if (!catalogueUnit || dimensionOf(field.unit) !== dimensionOf(catalogueUnit)) source.reportAt([...cAt, group, name, 'unit'], `unit ${field.unit} cannot stand for ${name}, which is in ${catalogueUnit ?? 'no unit'}`);
        }
      }
    }
  }
}

/** Sampling intervals in ms; one that does not parse or is not positive is reported. */
export function convertOpcUa(source: YamlSource, opcua: OpcUaInput, at: YamlPath): OpcUaConnection {
  if (!opcua.mapping) return { ...opcua, mapping: undefined };
  const telemetry = Object.fromEntries(
    Object.entries(opcua.mapping.telemetry ?? {}).map(([channel, t]) => {
      if (t.samplingInterval === undefined) return [channel, { variable: t.variable }];
      const parsed = parseDuration(t.samplingInterval);
      if (!parsed.ok || parsed.value <= 0) source.reportAt([...at, 'mapping', 'telemetry', channel, 'samplingInterval'], `sampling interval: ${parsed.ok ? 'must be positive' : parsed.error}`);
      return [channel, { variable: t.variable, samplingIntervalMs: parsed.ok ? parsed.value * 1000 : 0 }];
    }),
  );
  return { ...opcua, mapping: { ...opcua.mapping, ...(opcua.mapping.telemetry ? { telemetry } : {}) } };
}
