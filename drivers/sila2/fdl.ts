/**
 * Reads SiLA 2 Feature Definition Language (FDL) XML into the feature model. A definition that cannot be
 * read or mapped to protobuf unambiguously is refused with the line and column of the offending element and
 * what was expected there; one that breaks a rule of the standard but stays usable is read, and the rule it
 * breaks is listed in `feature.warnings`.
 */
import { readFileSync } from 'node:fs';
import { BASIC_TYPES, type BasicType, type Command, type DataType, type Described, type Feature, type Parameter } from './feature.ts';
import { constraintsXml, readConstraints } from './fdl-constraints.ts';
import { Children, FdlError, identifier, parseXml, text, Warnings, yesNo, type Element } from './fdl-xml.ts';

export { FdlError } from './fdl-xml.ts';

export const SILA_NAMESPACE = 'http://www.sila-standard.org';
const SILA2_VERSIONS = ['1.0', '1.1'];

export function readFeatureFile(file: string): Feature {
  return parseFeature(readFileSync(file, 'utf8'), file);
}

export function parseFeature(xml: string, file?: string): Feature {
  const root = parseXml(xml, file);
  const warnings = new Warnings(file);
  try {
    return { ...readFeature(root, xml, warnings), warnings: warnings.list };
  } catch (error) {
    if (error instanceof FdlError && file) throw new FdlError(error.line, error.col, error.detail, file);
    throw error;
  }
}

function described(children: Children): Described {
  return {
    identifier: identifier(children.required('Identifier')),
    displayName: text(children.required('DisplayName')),
    description: text(children.required('Description')),
  };
}

function readFeature(root: Element, xml: string, warnings: Warnings): Feature {
  if (root.name !== 'Feature') throw new FdlError(root.line, root.col, `expected a <Feature> element, found <${root.name}>`);
  if (root.uri !== SILA_NAMESPACE) throw new FdlError(root.line, root.col, `expected <Feature> in the namespace ${SILA_NAMESPACE}, found '${root.uri || 'no namespace'}'`);
  const attribute = (name: string, required: boolean, pattern?: RegExp, expected?: string) => {
    const value = root.attributes[name];
    if (value === undefined) {
      if (required) throw new FdlError(root.line, root.col, `missing attribute ${name} on <Feature>`);
      return undefined;
    }
    if (pattern && !pattern.test(value)) throw new FdlError(root.line, root.col, `attribute ${name}: expected ${expected}, got '${value}'`);
    return value;
  };
  const children = new Children(root);
  const head = described(children);
  const feature: Feature = {
    ...head,
    sila2Version: attribute('SiLA2Version', true, /^\d+\.\d+$/, 'a version such as 1.0')!,
    featureVersion: attribute('FeatureVersion', true, /^\d+\.\d+$/, 'a version such as 1.0')!,
    maturityLevel: attribute('MaturityLevel', false),
    originator: attribute('Originator', true, /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$/, 'a lower-case dotted name such as org.silastandard')!,
    category: attribute('Category', false, /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$/, 'a lower-case dotted name such as core') ?? 'none',
    locale: attribute('Locale', false),
    commands: [],
    properties: [],
    metadata: [],
    errors: [],
    dataTypes: [],
    xml,
  };
  if (!SILA2_VERSIONS.includes(feature.sila2Version)) warnings.add(root, `SiLA2Version '${feature.sila2Version}' is none this implementation knows (${SILA2_VERSIONS.join(', ')})`);
  if (feature.maturityLevel !== undefined && !['Draft', 'Verified', 'Normative'].includes(feature.maturityLevel)) {
    warnings.add(root, `MaturityLevel '${feature.maturityLevel}' is not Draft, Verified or Normative`);
  }
  const members = children.anyOf(['Command', 'Property', 'Metadata', 'DefinedExecutionError', 'DataTypeDefinition']);
  children.end('<Command>, <Property>, <Metadata>, <DefinedExecutionError> or <DataTypeDefinition>');
  const positions = new Map<object, Element>();
  const dataType = (element: Element) => readDataType(element, warnings);
  const parameter = (element: Element): Parameter => {
    const c = new Children(element);
    const read = { ...described(c), dataType: dataType(c.required('DataType')) };
    c.end('nothing after <DataType>');
    positions.set(read, element);
    return read;
  };
  for (const member of members) {
    const c = new Children(member);
    let read: Described;
    switch (member.name) {
      case 'Command': {
        const command: Command = {
          ...described(c),
          observable: yesNo(c.required('Observable')),
          parameters: c.many('Parameter').map(parameter),
          responses: c.many('Response').map(parameter),
          intermediateResponses: c.many('IntermediateResponse').map(parameter),
          errors: readErrorList(c.optional('DefinedExecutionErrors')),
        };
        c.end('<Parameter>, <Response>, <IntermediateResponse> or <DefinedExecutionErrors>');
        if (!command.observable && command.intermediateResponses.length) {
          throw new FdlError(member.line, member.col, `unobservable command ${command.identifier} cannot have intermediate responses`);
        }
        feature.commands.push(command);
        read = command;
        break;
      }
      case 'Property': {
        const property = { ...described(c), observable: yesNo(c.required('Observable')), dataType: dataType(c.required('DataType')), errors: readErrorList(c.optional('DefinedExecutionErrors')) };
        c.end('<DefinedExecutionErrors>');
        feature.properties.push(property);
        read = property;
        break;
      }
      case 'Metadata': {
        const metadata = { ...described(c), dataType: dataType(c.required('DataType')), errors: readErrorList(c.optional('DefinedExecutionErrors')) };
        c.end('<DefinedExecutionErrors>');
        feature.metadata.push(metadata);
        read = metadata;
        break;
      }
      case 'DefinedExecutionError': {
        read = described(c);
        c.end('nothing after <Description>');
        feature.errors.push(read);
        break;
      }
      default: {
        const definition = { ...described(c), dataType: dataType(c.required('DataType')) };
        c.end('nothing after <DataType>');
        feature.dataTypes.push(definition);
        read = definition;
      }
    }
    positions.set(read, member);
  }
  checkReferences(feature, positions);
  return feature;
}

function readErrorList(element: Element | undefined): string[] {
  if (!element) return [];
  const c = new Children(element);
  const identifiers = c.many('Identifier').map(identifier);
  c.end('<Identifier>');
  if (!identifiers.length) throw new FdlError(element.line, element.col, 'expected at least one <Identifier> in <DefinedExecutionErrors>');
  return identifiers;
}

/** Where each data type came from, so that reference checks can point at it. */
const dataTypePositions = new WeakMap<DataType, Element>();

function readDataType(element: Element, warnings: Warnings): DataType {
  const inner = element.children[0];
  if (!inner || element.children.length > 1) {
    const where = element.children[1] ?? element;
    throw new FdlError(where.line, where.col, 'expected exactly one of <Basic>, <List>, <Structure>, <Constrained> or <DataTypeIdentifier> in <DataType>');
  }
  const nested = (e: Element) => readDataType(e, warnings);
  let dataType: DataType;
  switch (inner.name) {
    case 'Basic': {
      const basic = text(inner);
      if (!(BASIC_TYPES as readonly string[]).includes(basic)) throw new FdlError(inner.line, inner.col, `expected a basic type (${BASIC_TYPES.join(', ')}), got '${basic}'`);
      dataType = { kind: 'basic', basic: basic as BasicType };
      break;
    }
    case 'List': {
      const c = new Children(inner);
      const elementType = nested(c.required('DataType'));
      c.end('nothing after <DataType>');
      if (elementType.kind === 'list') throw new FdlError(inner.line, inner.col, 'a List cannot directly contain another List');
      dataType = { kind: 'list', element: elementType };
      break;
    }
    case 'Structure': {
      const c = new Children(inner);
      const elements = c.many('Element').map((e) => {
        const ec = new Children(e);
        const structureElement = { ...described(ec), dataType: nested(ec.required('DataType')) };
        ec.end('nothing after <DataType>');
        return structureElement;
      });
      c.end('<Element>');
      if (!elements.length) throw new FdlError(inner.line, inner.col, 'expected at least one <Element> in <Structure>');
      duplicate(elements, inner, 'structure element');
      dataType = { kind: 'structure', elements };
      break;
    }
    case 'Constrained': {
      const c = new Children(inner);
      const base = nested(c.required('DataType'));
      if (base.kind !== 'basic' && base.kind !== 'list') {
        const what = { structure: 'a Structure', constrained: 'a Constrained type', reference: 'a data type identifier' }[base.kind];
        throw new FdlError(inner.line, inner.col, `constraints apply to a basic type or a List, not to ${what}`);
      }
      const constraints = readConstraints(c.required('Constraints'), base, nested, warnings);
      c.end('nothing after <Constraints>');
      dataType = { kind: 'constrained', base, constraints };
      break;
    }
    case 'DataTypeIdentifier':
      dataType = { kind: 'reference', identifier: identifier(inner) };
      break;
    default:
      throw new FdlError(inner.line, inner.col, `expected <Basic>, <List>, <Structure>, <Constrained> or <DataTypeIdentifier> in <DataType>, found <${inner.name}>`);
  }
  dataTypePositions.set(dataType, inner);
  return dataType;
}

function duplicate(items: readonly Described[], at: Element | ((item: Described) => Element), what: string): void {
  const seen = new Set<string>();
  for (const item of items) {
    if (seen.has(item.identifier)) {
      const where = typeof at === 'function' ? at(item) : at;
      throw new FdlError(where.line, where.col, `duplicate ${what} identifier '${item.identifier}'`);
    }
    seen.add(item.identifier);
  }
}

function checkReferences(feature: Feature, positions: Map<object, Element>): void {
  const position = (item: object) => positions.get(item)!;
  duplicate(feature.commands, position, 'command');
  duplicate(feature.properties, position, 'property');
  duplicate(feature.metadata, position, 'metadata');
  duplicate(feature.errors, position, 'defined execution error');
  duplicate(feature.dataTypes, position, 'data type');
  for (const command of feature.commands) {
    duplicate(command.parameters, position, `${command.identifier} parameter`);
    duplicate(command.responses, position, `${command.identifier} response`);
    duplicate(command.intermediateResponses, position, `${command.identifier} intermediate response`);
  }
  const errorIds = feature.errors.map((e) => e.identifier);
  for (const owner of [...feature.commands, ...feature.properties, ...feature.metadata]) {
    const listed = new Set<string>();
    for (const error of owner.errors) {
      const at = position(owner);
      if (!errorIds.includes(error)) throw new FdlError(at.line, at.col, `${owner.identifier} refers to undefined error '${error}'; define it with <DefinedExecutionError>`);
      if (listed.has(error)) throw new FdlError(at.line, at.col, `${owner.identifier} lists error '${error}' twice`);
      listed.add(error);
    }
  }
  const typeIds = feature.dataTypes.map((d) => d.identifier);
  /** The feature's data types a type refers to, directly or through lists, structures and constraints. */
  const walk = (dataType: DataType, inAllowedTypes: boolean, found: string[] = []): string[] => {
    switch (dataType.kind) {
      case 'reference': {
        const at = dataTypePositions.get(dataType)!;
        if (inAllowedTypes) throw new FdlError(at.line, at.col, `<AllowedTypes> cannot name a data type of the feature ('${dataType.identifier}'): an Any value carries only types built from basic types`);
        if (!typeIds.includes(dataType.identifier)) {
          throw new FdlError(at.line, at.col, `unknown data type '${dataType.identifier}'; expected one of the feature's <DataTypeDefinition>s${typeIds.length ? ` (${typeIds.join(', ')})` : ''}`);
        }
        found.push(dataType.identifier);
        break;
      }
      case 'list':
        walk(dataType.element, inAllowedTypes, found);
        break;
      case 'structure':
        for (const e of dataType.elements) walk(e.dataType, inAllowedTypes, found);
        break;
      case 'constrained':
        walk(dataType.base, inAllowedTypes, found);
        for (const allowed of dataType.constraints.allowedTypes ?? []) walk(allowed, true, found);
        break;
      case 'basic':
        break;
    }
    return found;
  };
  for (const c of feature.commands) for (const p of [...c.parameters, ...c.responses, ...c.intermediateResponses]) walk(p.dataType, false);
  for (const item of [...feature.properties, ...feature.metadata]) walk(item.dataType, false);
  const references = new Map(feature.dataTypes.map((d) => [d.identifier, walk(d.dataType, false)]));
  // A data type that contains itself, directly or through others, has no finite value or message.
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (id: string, path: string[]): void => {
    if (state.get(id) === 'done') return;
    if (state.get(id) === 'visiting') {
      const at = position(feature.dataTypes.find((d) => d.identifier === id)!);
      throw new FdlError(at.line, at.col, `data type '${id}' contains itself (${[...path.slice(path.indexOf(id)), id].join(' -> ')})`);
    }
    state.set(id, 'visiting');
    for (const next of references.get(id) ?? []) visit(next, [...path, id]);
    state.set(id, 'done');
  };
  for (const d of feature.dataTypes) visit(d.identifier, []);
}

/** Reads a standalone <DataType> element, as carried in the type field of an Any value. */
export function parseDataTypeXml(xml: string): DataType {
  const root = parseXml(xml);
  if (root.name !== 'DataType') throw new FdlError(root.line, root.col, `expected a <DataType> element, found <${root.name}>`);
  const dataType = readDataType(root, new Warnings());
  const walk = (d: DataType): void => {
    if (d.kind === 'reference') {
      const at = dataTypePositions.get(d)!;
      throw new FdlError(at.line, at.col, 'an Any value cannot be of a custom data type');
    }
    if (d.kind === 'list') walk(d.element);
    if (d.kind === 'structure') d.elements.forEach((e) => walk(e.dataType));
    if (d.kind === 'constrained') walk(d.base);
  };
  walk(dataType);
  return dataType;
}

const escapeXml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Writes a data type as a <DataType> element (compact, no namespace), the form Any values carry. */
export function dataTypeToXml(dataType: DataType): string {
  const described = (d: Described) =>
    `<Identifier>${d.identifier}</Identifier><DisplayName>${escapeXml(d.displayName)}</DisplayName><Description>${escapeXml(d.description)}</Description>`;
  const inner = (d: DataType): string => {
    switch (d.kind) {
      case 'basic':
        return `<Basic>${d.basic}</Basic>`;
      case 'list':
        return `<List>${dataTypeToXml(d.element)}</List>`;
      case 'structure':
        return `<Structure>${d.elements.map((e) => `<Element>${described(e)}${dataTypeToXml(e.dataType)}</Element>`).join('')}</Structure>`;
      case 'reference':
        return `<DataTypeIdentifier>${d.identifier}</DataTypeIdentifier>`;
      case 'constrained':
        return `<Constrained>${dataTypeToXml(d.base)}<Constraints>${constraintsXml(d.constraints, escapeXml, dataTypeToXml)}</Constraints></Constrained>`;
    }
  };
  return `<DataType>${inner(dataType)}</DataType>`;
}
