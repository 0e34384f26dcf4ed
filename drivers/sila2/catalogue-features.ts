/**
 * Workcell's own SiLA 2 features: one per module kind of the catalogue, so that any SiLA client can
 * drive a module through the capabilities the catalogue defines. The FDL files in protos/features/ are
 * written by this generator (`workcell sila features --write protos/features`) and a test keeps them
 * in step with the catalogue.
 */
import { readFileSync } from 'node:fs';
import { canonicalUnit, SI_DECOMPOSITION } from '../../config/units.ts';
import type { CapabilitySpec, ModuleKind, ParameterSpec, ResultSpec } from '../../config/catalogue.ts';
import { MODULE_STATES } from '../../config/state-model.ts';

export const WORKCELL_ORIGINATOR = 'dev.workcell';
export const WORKCELL_CATEGORY = 'modules';

/** 'cell-separator' -> 'CellSeparator', 'chamberTemperature' -> 'ChamberTemperature'. */
export function silaIdentifier(name: string): string {
  return name
    .split(/[-_\s]+/)
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');
}

export function featureFileName(kind: ModuleKind): string {
  return `${silaIdentifier(kind.kind)}-v1_0.sila.xml`;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** xs:decimal has no exponent notation. */
function decimal(n: number): string {
  return n.toLocaleString('en-US', { useGrouping: false, maximumSignificantDigits: 15 });
}

function displayName(name: string): string {
  return name.replace(/[-_]/g, ' ').replace(/([a-z0-9])([A-Z])/g, '$1 $2').replace(/^./, (c) => c.toUpperCase());
}

function element(tag: string, body: string, indent: string): string {
  return `${indent}<${tag}>${body}</${tag}>`;
}

function described(identifier: string, name: string, description: string, indent: string): string {
  return [element('Identifier', identifier, indent), element('DisplayName', esc(displayName(name)), indent), element('Description', esc(description), indent)].join('\n');
}

function unitConstraint(unit: string, indent: string): string {
  const canonical = canonicalUnit(unit);
  const si = canonical ? SI_DECOMPOSITION[canonical] : undefined;
  if (!si || canonical === '1') return '';
  const components = si.components.map(([siUnit, exponent]) => `<UnitComponent><SIUnit>${siUnit}</SIUnit><Exponent>${exponent}</Exponent></UnitComponent>`).join('');
  return `\n${indent}<Unit><Label>${esc(canonical!)}</Label><Factor>${decimal(si.factor)}</Factor><Offset>${decimal(si.offset)}</Offset>${components}</Unit>`;
}

function dataTypeXml(spec: Pick<ParameterSpec, 'type' | 'unit' | 'min' | 'max' | 'values'> | ResultSpec, indent: string): string {
  const inner = `${indent}  `;
  const constrained = (basic: string, constraints: string) =>
    constraints
      ? `${indent}<DataType>\n${inner}<Constrained>\n${inner}  <DataType><Basic>${basic}</Basic></DataType>\n${inner}  <Constraints>${constraints}\n${inner}  </Constraints>\n${inner}</Constrained>\n${indent}</DataType>`
      : `${indent}<DataType><Basic>${basic}</Basic></DataType>`;
  const limits = (s: typeof spec) => {
    const p = s as ParameterSpec;
    return `${p.min !== undefined ? `\n${inner}    <MinimalInclusive>${decimal(p.min)}</MinimalInclusive>` : ''}${p.max !== undefined ? `\n${inner}    <MaximalInclusive>${decimal(p.max)}</MaximalInclusive>` : ''}`;
  };
  switch (spec.type) {
    case 'number':
      return constrained('Real', `${limits(spec)}${spec.unit ? unitConstraint(spec.unit, `${inner}    `) : ''}`);
    case 'integer':
      return constrained('Integer', `${limits(spec)}${spec.unit ? unitConstraint(spec.unit, `${inner}    `) : ''}`);
    case 'enum':
      return constrained('String', `\n${inner}    <Set>${(spec as ParameterSpec).values!.map((v) => `<Value>${esc(v)}</Value>`).join('')}</Set>`);
    case 'boolean':
      return constrained('Boolean', '');
    default:
      return constrained('String', '');
  }
}

function parameterDescription(spec: ParameterSpec): string {
  const range = spec.min !== undefined || spec.max !== undefined ? ` Range ${spec.min ?? '-inf'} to ${spec.max ?? 'inf'}${spec.unit ? ` ${spec.unit}` : ''}.` : spec.unit ? ` In ${spec.unit}.` : '';
  const fallback = spec.default !== undefined ? ` Workcell sends ${spec.default} when a schedule does not set it.` : '';
  return `${spec.description}${range}${fallback}`;
}

/** A capability acts on the item loaded in the module unless it names its items itself (robot moves, plates). */
function itemParameterNeeded(kind: ModuleKind, capability: CapabilitySpec): boolean {
  return kind.material.container !== 'any' && !('itemId' in capability.parameters) && !('plateId' in capability.parameters);
}

const COMMON_ERRORS: Array<[string, string]> = [
  ['ModuleOccupied', 'The module holds another item; it takes one item at a time.'],
  ['WrongItem', 'The item found is not the one the command names.'],
  ['HardwareFault', 'The device reported a fault and stopped the operation.'],
  ['NotRunning', 'No operation is running that could be held, resumed or aborted, or nothing needs clearing.'],
];

export function moduleKindFeatureXml(kind: ModuleKind): string {
  const id = silaIdentifier(kind.kind);
  const out: string[] = [
    '<?xml version="1.0" encoding="utf-8" ?>',
    '<!-- Generated from the Workcell module catalogue (modules/catalogue/) by `workcell sila features`; edit the catalogue, not this file. -->',
    `<Feature SiLA2Version="1.0" FeatureVersion="1.0" MaturityLevel="Draft" Originator="${WORKCELL_ORIGINATOR}" Category="${WORKCELL_CATEGORY}"`,
    '         xmlns="http://www.sila-standard.org"',
    '         xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"',
    '         xsi:schemaLocation="http://www.sila-standard.org https://gitlab.com/SiLA2/sila_base/raw/master/schema/FeatureDefinition.xsd">',
    described(id, kind.kind, `${kind.description.trim()} Holds ${kind.material.capacity} ${kind.material.container === 'any' ? 'item' : kind.material.container}(s) at a time.`, '    '),
  ];
  for (const [name, capability] of Object.entries(kind.capabilities)) {
    out.push('    <Command>', described(silaIdentifier(name), name, capability.description, '        '), '        <Observable>Yes</Observable>');
    if (itemParameterNeeded(kind, capability)) {
      out.push('        <Parameter>', described('ItemId', 'item id', 'Barcode of the item (bag, cartridge) the command works on; the module refuses another one.', '            '), dataTypeXml({ type: 'string' } as ParameterSpec, '            '), '        </Parameter>');
    }
    for (const [parameter, spec] of Object.entries(capability.parameters)) {
      out.push('        <Parameter>', described(silaIdentifier(parameter), parameter, parameterDescription(spec), '            '), dataTypeXml(spec, '            '), '        </Parameter>');
    }
    for (const [result, spec] of Object.entries(capability.results)) {
      out.push('        <Response>', described(silaIdentifier(result), result, `${spec.description}${spec.unit ? ` In ${spec.unit}.` : ''}`, '            '), dataTypeXml(spec, '            '), '        </Response>');
    }
    out.push(`        <DefinedExecutionErrors>${COMMON_ERRORS.slice(0, 3).map(([e]) => `<Identifier>${e}</Identifier>`).join('')}</DefinedExecutionErrors>`, '    </Command>');
  }
  for (const [name, description] of [
    ['Hold', 'Pauses the running operation where the device allows it.'],
    ['Resume', 'Continues a held operation.'],
    ['Abort', 'Stops the running operation; the item stays in the module for recovery.'],
    ['Clear', 'After an abort or a fault: returns the module to idle, ready for work.'],
  ]) {
    out.push('    <Command>', described(name!, name!, description!, '        '), '        <Observable>No</Observable>', '        <DefinedExecutionErrors><Identifier>NotRunning</Identifier></DefinedExecutionErrors>', '    </Command>');
  }
  out.push(
    '    <Property>',
    described('State', 'state', `The module state in Workcell's normalized model: ${MODULE_STATES.join(', ')}.`, '        '),
    '        <Observable>Yes</Observable>',
    dataTypeXml({ type: 'enum', values: [...MODULE_STATES] } as ParameterSpec, '        '),
    '    </Property>',
    '    <Property>',
    described('LoadedItems', 'loaded items', 'Barcodes of the items in the module; empty when it is free.', '        '),
    '        <Observable>Yes</Observable>',
    '        <DataType><List><DataType><Basic>String</Basic></DataType></List></DataType>',
    '    </Property>',
  );
  const channels = new Map<string, { unit: string; description: string }>();
  for (const capability of Object.values(kind.capabilities)) for (const [name, channel] of Object.entries(capability.telemetry)) if (!channels.has(name)) channels.set(name, channel);
  for (const [name, channel] of channels) {
    out.push('    <Property>', described(silaIdentifier(name), name, `${channel.description}${channel.unit !== '1' ? ` In ${channel.unit}.` : ''}`, '        '), '        <Observable>Yes</Observable>', dataTypeXml({ type: 'number', unit: channel.unit } as ParameterSpec, '        '), '    </Property>');
  }
  for (const [name, description] of COMMON_ERRORS) out.push('    <DefinedExecutionError>', described(name, name, description, '        '), '    </DefinedExecutionError>');
  out.push('</Feature>', '');
  return out.join('\n');
}

/** Workcell's feature that lets a client repeat a command initiation safely (protos/features/IdempotentCommands-v1_0.sila.xml). */
export const IDEMPOTENT_COMMANDS_FEATURE = 'dev.workcell/core/IdempotentCommands/v1';
export const IDEMPOTENCY_KEY_METADATA = `${IDEMPOTENT_COMMANDS_FEATURE}/Metadata/IdempotencyKey`;

export function idempotentCommandsFeatureXml(): string {
  return readFileSync(new URL('../../protos/features/IdempotentCommands-v1_0.sila.xml', import.meta.url), 'utf8');
}
