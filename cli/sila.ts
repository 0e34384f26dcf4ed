/** `workcell sila ...`: look at and drive any SiLA 2 server from the terminal. */
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SilaClient, type HeldLock, type SilaClientOptions } from '../drivers/sila2/client.ts';
import { DefinedExecutionError, FrameworkError, SilaConnectionError, SilaError, ValidationError } from '../drivers/sila2/errors.ts';
import { readFeatureFile } from '../drivers/sila2/fdl.ts';
import { featureFqi, fqi, resolveReference, sameFqi, type Command as SilaCommand, type DataType, type Feature } from '../drivers/sila2/feature.ts';
import { describeDataType } from '../drivers/sila2/data-type-text.ts';
import { findMetadataItem, metadataAffecting, metadataItems, type MetadataItem } from '../drivers/sila2/call-metadata.ts';
import { CORE_FEATURES, coreFeatureSummary } from '../drivers/sila2/core/features.ts';
import { featureProtoText } from '../drivers/sila2/proto.ts';
import { discover, type DiscoveryTransport } from '../drivers/sila2/discovery.ts';
import { featureFileName, IDEMPOTENCY_KEY_METADATA, moduleKindFeatureXml } from '../drivers/sila2/catalogue-features.ts';
import { loadCatalogue } from '../config/catalogue.ts';
import { BinaryRef, type SilaValue } from '../drivers/sila2/values.ts';
import { UsageError } from './usage.ts';

interface DiscoveryOptions {
  discoveryUnicast?: string;
  timeout?: string;
}

interface ConnectionOptions extends DiscoveryOptions {
  ca?: string;
  insecure?: boolean;
  trustDiscoveredCa?: boolean;
}

interface CallOptions extends ConnectionOptions {
  param?: string[];
  metadata?: string[];
  lock?: string;
}

/** `sila proto FILE`: the protobuf of a feature definition. */
export async function proto([file]: [string]): Promise<number> {
  process.stdout.write(`${featureProtoText(readFeatureFile(file))}\n`);
  return 0;
}

function discoveryTransport(parsed: DiscoveryOptions): DiscoveryTransport {
  const unicast = parsed.discoveryUnicast;
  if (!unicast) return { kind: 'multicast' };
  const { host, port } = address(unicast);
  return { kind: 'unicast', host, port };
}

function address(text: string): { host: string; port: number } {
  const match = /^\[?([^\]]+?)\]?:(\d+)$/.exec(text);
  if (!match) throw new UsageError(`expected HOST:PORT, got '${text}'`);
  return { host: match[1]!, port: Number(match[2]) };
}

async function connect(target: string, parsed: ConnectionOptions): Promise<SilaClient> {
  const { host, port } = address(target);
  // Someone at a terminal is told within seconds that the server went away (an orchestrator waits longer).
  const options: SilaClientOptions = { host, port, insecure: parsed.insecure === true, connectTimeoutMs: Number(parsed.timeout ?? 5000), reconnectTimeoutMs: 15_000, callTimeoutMs: 15_000 };
  const caFile = parsed.ca;
  if ([caFile !== undefined, options.insecure, parsed.trustDiscoveredCa === true].filter(Boolean).length > 1) {
    throw new UsageError('choose one of --ca, --insecure and --trust-discovered-ca');
  }
  if (caFile) options.ca = readFileSync(caFile, 'utf8');
  if (parsed.trustDiscoveredCa) {
    const found = (await discover({ transport: discoveryTransport(parsed), timeoutMs: 1000 })).find((s) => s.port === port && (s.host === host || s.target === host));
    if (!found?.ca) throw new Error(`no SiLA server at ${target} announced a CA over DNS-SD`);
    options.ca = found.ca;
  }
  return SilaClient.connect(options);
}

/** `sila browse HOST:PORT`. */
export async function browse([target]: [string], parsed: ConnectionOptions): Promise<number> {
  const client = await connect(target, parsed);
  try {
    const id = client.identity;
    const out = [
      `Server       ${id.name}`,
      `Type         ${id.type} ${id.version}`,
      `UUID         ${id.uuid}`,
      `Vendor       ${id.vendorUrl}`,
      `Description  ${id.description}`,
    ];
    const core = coreFeatureSummary(client.features);
    out.push(`Core features  ${core.implemented.join(', ')}`);
    if (core.missing.length) out.push(`Not offered    ${core.missing.join(', ')}`);
    const affects = new Map<string, string[]>();
    for (const item of metadataItems(client.features)) affects.set(item.fqi, await client.affectedCalls(featureFqi(item.feature), item.metadata.identifier).catch((error: Error) => [`(the server did not say: ${error.message})`]));
    for (const feature of client.features) out.push('', ...describeFeature(feature, (metadata) => affects.get(fqi.metadata(feature, metadata))));
    process.stdout.write(`${out.join('\n')}\n`);
    return 0;
  } finally {
    client.close();
  }
}

/** `affects` gives the calls a metadata item affects, when known. */
export function describeFeature(feature: Feature, affects: (metadata: string) => string[] | undefined = () => undefined): string[] {
  const type = (d: DataType) => describeDataType(d);
  const lines = [`Feature ${featureFqi(feature)}: ${feature.displayName}`];
  for (const c of feature.commands) {
    lines.push(`  Command ${c.identifier} (${c.observable ? 'observable' : 'unobservable'})`);
    for (const p of c.parameters) lines.push(`    parameter     ${p.identifier}: ${type(p.dataType)}`);
    for (const r of c.intermediateResponses) lines.push(`    intermediate  ${r.identifier}: ${type(r.dataType)}`);
    for (const r of c.responses) lines.push(`    response      ${r.identifier}: ${type(r.dataType)}`);
    if (c.errors.length) lines.push(`    errors        ${c.errors.join(', ')}`);
  }
  for (const p of feature.properties) {
    lines.push(`  Property ${p.identifier}: ${type(p.dataType)}${p.observable ? ' (observable)' : ''}`);
    if (p.errors.length) lines.push(`    errors        ${p.errors.join(', ')}`);
  }
  for (const m of feature.metadata) {
    lines.push(`  Metadata ${m.identifier}: ${type(m.dataType)}`);
    const calls = affects(m.identifier);
    if (calls) lines.push(`    affects       ${calls.join(', ') || 'no call'}`);
    if (m.errors.length) lines.push(`    errors        ${m.errors.join(', ')}`);
  }
  for (const e of feature.errors) lines.push(`  Error ${e.identifier}: ${e.description}`);
  for (const d of feature.dataTypes) lines.push(`  Data type ${d.identifier}: ${type(d.dataType)}`);
  return lines;
}

/** `sila call HOST:PORT FEATURE COMMAND`. */
export async function call([target, featureRef, commandId]: [string, string, string], parsed: CallOptions): Promise<number> {
  const lockSeconds = parsed.lock;
  if (lockSeconds !== undefined && !/^\d+$/.test(lockSeconds)) throw new UsageError(`--lock takes a number of seconds, got '${lockSeconds}'`);
  const client = await connect(target, parsed);
  let lock: HeldLock | undefined;
  let execution: string | undefined;
  let connectionLost = false;
  try {
    const feature = client.feature(featureRef);
    const command = feature.commands.find((c) => c.identifier === commandId);
    if (!command) throw new UsageError(`feature ${feature.identifier} has no command '${commandId}'; it has ${feature.commands.map((c) => c.identifier).join(', ')}`);
    const parameters = callParameters(parsed, feature, command);
    const metadata = await callMetadata(client, parsed, feature, command);
    // The lock goes with every call it protects, this one included, and ends when the call does.
    if (lockSeconds !== undefined) lock = await client.lock({ timeoutSeconds: Number(lockSeconds) });
    let responses: Record<string, SilaValue>;
    if (command.observable) {
      const started = await client.start(feature.identifier, commandId, parameters, { metadata });
      execution = started.uuid;
      process.stdout.write(`execution ${started.uuid}\n`);
      for await (const update of started) {
        if (update.kind === 'intermediate') process.stdout.write(`intermediate ${formatValue(update.responses)}\n`);
        else process.stdout.write(`${update.status}${update.progress !== undefined ? ` ${Math.round(update.progress * 100)}%` : ''}${update.estimatedRemainingSeconds ? `, ${update.estimatedRemainingSeconds.toFixed(1)} s left` : ''}\n`);
      }
      responses = await started.result();
    } else {
      responses = await client.call(feature.identifier, commandId, parameters, { metadata });
    }
    process.stdout.write(`${formatValue(responses)}\n`);
    return 0;
  } catch (error) {
    if (error instanceof SilaError) {
      const where = error instanceof DefinedExecutionError ? ` ${error.errorIdentifier}` : error instanceof ValidationError ? ` ${error.parameter}` : error instanceof FrameworkError ? ` ${error.errorType}` : '';
      process.stderr.write(`${error.name}${where}: ${error.message}\n`);
      return 1;
    }
    if (error instanceof SilaConnectionError) {
      connectionLost = true;
      const still = execution ? `; execution ${execution} may still run on the server` : '';
      process.stderr.write(`lost the connection to ${target} (${error.message})${still}\n`);
      return 1;
    }
    throw error;
  } finally {
    if (!connectionLost) await lock?.release().catch((error: Error) => process.stderr.write(`could not unlock the server (lock ${lock!.lockId}): ${error.message}; it unlocks itself after ${lockSeconds} s\n`));
    client.close();
  }
}

/** NAME=VALUE pairs of a repeatable option, in the order given. */
function pairs(values: string[] | undefined, name: string): Map<string, string> {
  const given = new Map<string, string>();
  for (const pair of values ?? []) {
    const eq = pair.indexOf('=');
    if (eq < 1) throw new UsageError(`--${name} takes NAME=VALUE, got '${pair}'`);
    given.set(pair.slice(0, eq), pair.slice(eq + 1));
  }
  return given;
}

function callParameters(parsed: CallOptions, feature: Feature, command: SilaCommand): Record<string, SilaValue> {
  const given = pairs(parsed.param, 'param');
  const parameters: Record<string, SilaValue> = {};
  for (const p of command.parameters) {
    const text = given.get(p.identifier);
    if (text === undefined) throw new UsageError(`missing --param ${p.identifier}=VALUE (${describeDataType(p.dataType)})`);
    parameters[p.identifier] = valueFromText(text, p.dataType, feature, p.identifier);
    given.delete(p.identifier);
  }
  if (given.size) throw new UsageError(`${command.identifier} has no parameter ${[...given.keys()].join(', ')}`);
  return parameters;
}

/**
 * The metadata of a call: what --metadata gives, by identifier or fully qualified identifier, and what
 * the call needs that Workcell supplies itself (a fresh IdempotencyKey; the lock identifier with --lock).
 */
async function callMetadata(client: SilaClient, parsed: CallOptions, feature: Feature, command: SilaCommand): Promise<Record<string, SilaValue>> {
  const needed = await metadataAffecting(client, feature, fqi.command(feature, command.identifier));
  const values: Record<string, SilaValue> = {};
  for (const [name, text] of pairs(parsed.metadata, 'metadata')) {
    let item: MetadataItem | undefined;
    try {
      item = findMetadataItem(client.features, name);
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
    if (!item) throw new UsageError(`the server defines no metadata '${name}'; it defines ${metadataItems(client.features).map((m) => m.metadata.identifier).join(', ') || 'none'}`);
    if (!needed.some((n) => n.fqi === item.fqi)) process.stderr.write(`note: metadata ${item.metadata.identifier} does not affect ${feature.identifier} ${command.identifier}, so it is not sent\n`);
    values[item.fqi] = valueFromText(text, item.metadata.dataType, item.feature, name, 'metadata');
  }
  for (const item of needed) {
    if (item.fqi in values || sameFqi(item.fqi, `${CORE_FEATURES.LockController}/Metadata/LockIdentifier`)) continue;
    if (sameFqi(item.fqi, IDEMPOTENCY_KEY_METADATA)) {
      const key = randomUUID();
      values[item.fqi] = key;
      process.stdout.write(`idempotency key ${key}\n`);
      continue;
    }
    throw new UsageError(`${command.identifier} needs metadata ${item.metadata.identifier} (${describeDataType(item.metadata.dataType)}): pass --metadata ${item.metadata.identifier}=VALUE`);
  }
  return values;
}

/** Reads a command-line value as the parameter's SiLA type; lists and structures are written as JSON. */
export function valueFromText(text: string, dataType: DataType, feature: Feature, name: string, flag: 'param' | 'metadata' = 'param'): SilaValue {
  const resolved = resolveReference(feature, dataType.kind === 'constrained' ? dataType.base : dataType);
  if (resolved.kind === 'list' || resolved.kind === 'structure' || (resolved.kind === 'basic' && resolved.basic === 'Any')) {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new UsageError(`--${flag} ${name}: expected JSON for ${describeDataType(dataType)}`);
    }
    return fromJson(json, dataType, feature, name, flag);
  }
  return fromJson(text, dataType, feature, name, flag);
}

function fromJson(value: unknown, dataType: DataType, feature: Feature, name: string, flag: string): SilaValue {
  const d = resolveReference(feature, dataType.kind === 'constrained' ? dataType.base : dataType);
  const fail = (expected: string) => new UsageError(`--${flag} ${name}: expected ${expected}, got ${JSON.stringify(value)}`);
  if (d.kind === 'list') {
    if (!Array.isArray(value)) throw fail('a JSON list');
    return value.map((v, i) => fromJson(v, d.element, feature, `${name}[${i}]`, flag));
  }
  if (d.kind === 'structure') {
    if (!value || typeof value !== 'object') throw fail('a JSON object');
    return Object.fromEntries(d.elements.map((e) => [e.identifier, fromJson((value as Record<string, unknown>)[e.identifier], e.dataType, feature, `${name}.${e.identifier}`, flag)]));
  }
  if (d.kind !== 'basic') throw fail(describeDataType(dataType));
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  switch (d.basic) {
    case 'String':
      return text;
    case 'Integer': {
      if (!/^-?\d+$/.test(text)) throw fail('an integer');
      const big = BigInt(text);
      return big <= BigInt(Number.MAX_SAFE_INTEGER) && big >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(big) : big;
    }
    case 'Real': {
      const n = Number(text);
      if (text.trim() === '' || Number.isNaN(n)) throw fail('a number');
      return n;
    }
    case 'Boolean':
      if (/^(true|yes|1)$/i.test(text)) return true;
      if (/^(false|no|0)$/i.test(text)) return false;
      throw fail('true or false');
    case 'Binary':
      return text.startsWith('@') ? readFileSync(text.slice(1)) : Buffer.from(text, 'utf8');
    case 'Date': {
      const m = /^(\d{4})-(\d{2})-(\d{2})(Z|[+-]\d{2}:\d{2})$/.exec(text);
      if (!m) throw fail('a date with zone, such as 2026-11-22Z or 2026-11-22+01:00');
      return { year: Number(m[1]), month: Number(m[2]), day: Number(m[3]), timezone: zone(m[4]!) };
    }
    case 'Time': {
      const m = /^(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,3}))?(Z|[+-]\d{2}:\d{2})$/.exec(text);
      if (!m) throw fail('a time with zone, such as 14:30:00Z');
      return { hour: Number(m[1]), minute: Number(m[2]), second: Number(m[3]), millisecond: Number((m[4] ?? '0').padEnd(3, '0')), timezone: zone(m[5]!) };
    }
    case 'Timestamp': {
      const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,3}))?(Z|[+-]\d{2}:\d{2})$/.exec(text);
      if (!m) throw fail('a timestamp with zone, such as 2026-11-22T14:30:00Z');
      return {
        year: Number(m[1]), month: Number(m[2]), day: Number(m[3]), hour: Number(m[4]), minute: Number(m[5]), second: Number(m[6]),
        millisecond: Number((m[7] ?? '0').padEnd(3, '0')), timezone: zone(m[8]!),
      };
    }
    case 'Any': {
      const any = value as { type?: string; value?: unknown };
      if (!any || typeof any.type !== 'string') throw fail('{"type": "<DataType>...</DataType>", "value": ...}');
      return { type: any.type as never, value: any.value as SilaValue };
    }
  }
}

function zone(text: string): { hours: number; minutes: number } {
  if (text === 'Z') return { hours: 0, minutes: 0 };
  const sign = text.startsWith('-') ? -1 : 1;
  return { hours: sign * Number(text.slice(1, 3)), minutes: Number(text.slice(4, 6)) };
}

/** Prints values readably: bytes as a size and hex preview, big integers exactly, dates in ISO form. */
export function formatValue(value: SilaValue): string {
  return JSON.stringify(value, (_key, v) => {
    if (typeof v === 'bigint') return v.toString();
    if (v instanceof BinaryRef) return `<binary ${v.binaryTransferUUID}>`;
    if (v && typeof v === 'object' && v.type === 'Buffer' && Array.isArray(v.data)) return `<${v.data.length} bytes${v.data.length ? `: ${Buffer.from(v.data.slice(0, 16)).toString('hex')}${v.data.length > 16 ? '...' : ''}` : ''}>`;
    if (v instanceof Uint8Array) return `<${v.length} bytes>`;
    return v;
  });
}

/** `sila discover`. */
export async function discoverServers(_args: [], parsed: DiscoveryOptions): Promise<number> {
  const servers = await discover({ timeoutMs: Number(parsed.timeout ?? 2000), transport: discoveryTransport(parsed) });
  if (!servers.length) {
    process.stdout.write('no SiLA servers answered\n');
    return 0;
  }
  for (const s of servers) {
    process.stdout.write(`${s.host}:${s.port}  ${s.name}  (${s.uuid}, version ${s.version})${s.ca ? '  publishes a CA' : ''}\n${s.description ? `  ${s.description}\n` : ''}`);
  }
  return 0;
}

/** `sila features`: the module-kind features generated from the catalogue. */
export async function features(_args: [], parsed: { write?: string }): Promise<number> {
  const catalogue = loadCatalogue();
  const directory = parsed.write;
  for (const name of catalogue.kindNames()) {
    const kind = catalogue.kind(name)!;
    const xml = moduleKindFeatureXml(kind);
    if (directory) {
      mkdirSync(directory, { recursive: true });
      writeFileSync(join(directory, featureFileName(kind)), xml);
      process.stdout.write(`wrote ${join(directory, featureFileName(kind))}\n`);
    } else {
      process.stdout.write(`${xml}\n`);
    }
  }
  return 0;
}
