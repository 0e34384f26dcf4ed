/**
 * Reads SiLA 2 Feature Definition Language (FDL) XML into the feature model. A malformed definition is
 * refused with the line and column of the offending element and what was expected there.
 */
import { readFileSync } from 'node:fs';
import { SaxesParser } from 'saxes';
import {
  BASIC_TYPES,
  FQI_KINDS,
  type BasicType,
  type Command,
  type Constraints,
  type DataType,
  type Described,
  type Feature,
  type FqiKind,
  type Parameter,
} from './feature.ts';

export const SILA_NAMESPACE = 'http://www.sila-standard.org';

export class FdlError extends Error {
  constructor(readonly line: number, readonly col: number, readonly detail: string, readonly file?: string) {
    super(`${file ? `${file}:` : ''}${line}:${col}: ${detail}`);
    this.name = 'FdlError';
  }
}

interface Element {
  name: string;
  uri: string;
  attributes: Record<string, string>;
  children: Element[];
  text: string;
  line: number;
  col: number;
}

export function readFeatureFile(file: string): Feature {
  return parseFeature(readFileSync(file, 'utf8'), file);
}

export function parseFeature(xml: string, file?: string): Feature {
  const root = parseXml(xml, file);
  try {
    return readFeature(root, xml);
  } catch (error) {
    if (error instanceof FdlError && file) throw new FdlError(error.line, error.col, error.detail, file);
    throw error;
  }
}

function parseXml(xml: string, file?: string): Element {
  const parser = new SaxesParser({ xmlns: true, position: true });
  const stack: Element[] = [];
  let root: Element | undefined;
  let tagStart = { line: 1, col: 1 };
  let failure: FdlError | undefined;
  parser.on('error', (error) => {
    if (!failure) failure = new FdlError(parser.line, parser.column + 1, `malformed XML: ${error.message.replace(/^[^:]*:\d+:\d+: /, '')}`, file);
  });
  parser.on('opentagstart', (tag) => {
    // saxes reports this after reading the name and the character after it.
    tagStart = { line: parser.line, col: Math.max(1, parser.column - tag.name.length - 1) };
  });
  parser.on('opentag', (tag) => {
    const attributes: Record<string, string> = {};
    for (const [name, attribute] of Object.entries(tag.attributes)) attributes[name] = typeof attribute === 'string' ? attribute : attribute.value;
    const element: Element = { name: tag.local ?? tag.name, uri: tag.uri ?? '', attributes, children: [], text: '', ...tagStart };
    if (stack.length) stack[stack.length - 1]!.children.push(element);
    else root = element;
    stack.push(element);
  });
  parser.on('text', (text) => {
    if (stack.length) stack[stack.length - 1]!.text += text;
  });
  parser.on('cdata', (text) => {
    if (stack.length) stack[stack.length - 1]!.text += text;
  });
  parser.on('closetag', () => {
    stack.pop();
  });
  try {
    parser.write(xml).close();
  } catch (error) {
    if (!failure) failure = new FdlError(parser.line, parser.column + 1, `malformed XML: ${(error as Error).message}`, file);
  }
  if (failure) throw failure;
  if (!root) throw new FdlError(1, 1, 'expected a <Feature> element', file);
  return root;
}

/** Walks an element's children in order, refusing anything out of place. */
class Children {
  private index = 0;
  constructor(private readonly parent: Element) {}

  private get current(): Element | undefined {
    return this.parent.children[this.index];
  }

  required(name: string): Element {
    const element = this.current;
    if (!element || element.name !== name) {
      const where = element ?? this.parent;
      throw new FdlError(where.line, where.col, `expected <${name}> in <${this.parent.name}>${element ? `, found <${element.name}>` : ''}`);
    }
    this.index++;
    return element;
  }

  optional(name: string): Element | undefined {
    return this.current?.name === name ? this.parent.children[this.index++] : undefined;
  }

  many(name: string): Element[] {
    const found: Element[] = [];
    while (this.current?.name === name) found.push(this.parent.children[this.index++]!);
    return found;
  }

  /** Children of any of `names`, in any order (feature members are commonly written in varying order). */
  anyOf(names: readonly string[]): Element[] {
    const found: Element[] = [];
    while (this.current && names.includes(this.current.name)) found.push(this.parent.children[this.index++]!);
    return found;
  }

  end(expected: string): void {
    const extra = this.current;
    if (extra) throw new FdlError(extra.line, extra.col, `unexpected <${extra.name}> in <${this.parent.name}>; expected ${expected}`);
  }
}

const IDENTIFIER = /^[A-Z][a-zA-Z0-9]*$/;

function text(element: Element): string {
  if (element.children.length) {
    const child = element.children[0]!;
    throw new FdlError(child.line, child.col, `expected text in <${element.name}>, found <${child.name}>`);
  }
  return element.text.trim();
}

function identifier(element: Element): string {
  const value = text(element);
  if (!IDENTIFIER.test(value) || value.length > 255) {
    throw new FdlError(element.line, element.col, `expected an identifier (an upper-case letter, then letters and digits, at most 255), got '${value}'`);
  }
  return value;
}

function described(children: Children): Described {
  return {
    identifier: identifier(children.required('Identifier')),
    displayName: text(children.required('DisplayName')),
    description: text(children.required('Description')),
  };
}

function yesNo(element: Element): boolean {
  const value = text(element);
  if (value !== 'Yes' && value !== 'No') throw new FdlError(element.line, element.col, `expected Yes or No in <${element.name}>, got '${value}'`);
  return value === 'Yes';
}

function integer(element: Element, minimum = 0): number {
  const value = text(element);
  if (!/^\d+$/.test(value) || Number(value) < minimum) throw new FdlError(element.line, element.col, `expected a whole number of at least ${minimum} in <${element.name}>, got '${value}'`);
  return Number(value);
}

function decimal(element: Element): number {
  const value = text(element);
  if (!/^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/.test(value)) throw new FdlError(element.line, element.col, `expected a number in <${element.name}>, got '${value}'`);
  return Number(value);
}

function readFeature(root: Element, xml: string): Feature {
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
  const members = children.anyOf(['Command', 'Property', 'Metadata', 'DefinedExecutionError', 'DataTypeDefinition']);
  children.end('<Command>, <Property>, <Metadata>, <DefinedExecutionError> or <DataTypeDefinition>');
  const positions = new Map<object, Element>();
  for (const member of members) {
    const c = new Children(member);
    switch (member.name) {
      case 'Command': {
        const command: Command = {
          ...described(c),
          observable: yesNo(c.required('Observable')),
          parameters: c.many('Parameter').map(readParameter),
          responses: c.many('Response').map(readParameter),
          intermediateResponses: c.many('IntermediateResponse').map(readParameter),
          errors: readErrorList(c.optional('DefinedExecutionErrors')),
        };
        c.end('<Parameter>, <Response>, <IntermediateResponse> or <DefinedExecutionErrors>');
        if (!command.observable && command.intermediateResponses.length) {
          throw new FdlError(member.line, member.col, `unobservable command ${command.identifier} cannot have intermediate responses`);
        }
        feature.commands.push(command);
        positions.set(command, member);
        break;
      }
      case 'Property': {
        const property = { ...described(c), observable: yesNo(c.required('Observable')), dataType: readDataType(c.required('DataType')), errors: readErrorList(c.optional('DefinedExecutionErrors')) };
        c.end('<DefinedExecutionErrors>');
        feature.properties.push(property);
        positions.set(property, member);
        break;
      }
      case 'Metadata': {
        const metadata = { ...described(c), dataType: readDataType(c.required('DataType')), errors: readErrorList(c.optional('DefinedExecutionErrors')) };
        c.end('<DefinedExecutionErrors>');
        feature.metadata.push(metadata);
        positions.set(metadata, member);
        break;
      }
      case 'DefinedExecutionError': {
        const error = described(c);
        c.end('nothing after <Description>');
        feature.errors.push(error);
        positions.set(error, member);
        break;
      }
      case 'DataTypeDefinition': {
        const definition = { ...described(c), dataType: readDataType(c.required('DataType')) };
        c.end('nothing after <DataType>');
        feature.dataTypes.push(definition);
        positions.set(definition, member);
        break;
      }
    }
  }
  checkReferences(feature, positions);
  return feature;
}

function readParameter(element: Element): Parameter {
  const c = new Children(element);
  const parameter = { ...described(c), dataType: readDataType(c.required('DataType')) };
  c.end('nothing after <DataType>');
  return parameter;
}

function readErrorList(element: Element | undefined): string[] {
  if (!element) return [];
  const c = new Children(element);
  const identifiers = c.many('Identifier').map(identifier);
  c.end('<Identifier>');
  return identifiers;
}

/** Where each data type came from, so that reference checks can point at it. */
const dataTypePositions = new WeakMap<DataType, Element>();

function readDataType(element: Element): DataType {
  const inner = element.children[0];
  if (!inner || element.children.length > 1) {
    const where = element.children[1] ?? element;
    throw new FdlError(where.line, where.col, 'expected exactly one of <Basic>, <List>, <Structure>, <Constrained> or <DataTypeIdentifier> in <DataType>');
  }
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
      const elementType = readDataType(c.required('DataType'));
      c.end('nothing after <DataType>');
      if (elementType.kind === 'list') throw new FdlError(inner.line, inner.col, 'a List cannot directly contain another List');
      dataType = { kind: 'list', element: elementType };
      break;
    }
    case 'Structure': {
      const c = new Children(inner);
      const elements = c.many('Element').map((e) => {
        const ec = new Children(e);
        const structureElement = { ...described(ec), dataType: readDataType(ec.required('DataType')) };
        ec.end('nothing after <DataType>');
        return structureElement;
      });
      c.end('<Element>');
      if (!elements.length) throw new FdlError(inner.line, inner.col, 'expected at least one <Element> in <Structure>');
      const seen = new Set<string>();
      for (const e of elements) {
        if (seen.has(e.identifier)) throw new FdlError(inner.line, inner.col, `duplicate structure element '${e.identifier}'`);
        seen.add(e.identifier);
      }
      dataType = { kind: 'structure', elements };
      break;
    }
    case 'Constrained': {
      const c = new Children(inner);
      const base = readDataType(c.required('DataType'));
      const constraints = readConstraints(c.required('Constraints'));
      c.end('nothing after <Constraints>');
      if (base.kind !== 'basic' && base.kind !== 'list') throw new FdlError(inner.line, inner.col, 'constraints apply to a basic type or a List');
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

const CONSTRAINT_NAMES = [
  'Length', 'MinimalLength', 'MaximalLength', 'Set', 'Pattern', 'MaximalExclusive', 'MaximalInclusive', 'MinimalExclusive', 'MinimalInclusive',
  'Unit', 'ContentType', 'ElementCount', 'MinimalElementCount', 'MaximalElementCount', 'FullyQualifiedIdentifier', 'Schema', 'AllowedTypes',
];

function readConstraints(element: Element): Constraints {
  const constraints: Constraints = {};
  const seen = new Set<string>();
  for (const child of element.children) {
    if (!CONSTRAINT_NAMES.includes(child.name)) throw new FdlError(child.line, child.col, `unknown constraint <${child.name}>; expected one of ${CONSTRAINT_NAMES.join(', ')}`);
    if (seen.has(child.name)) throw new FdlError(child.line, child.col, `constraint <${child.name}> given twice`);
    seen.add(child.name);
    switch (child.name) {
      case 'Length': constraints.length = integer(child); break;
      case 'MinimalLength': constraints.minimalLength = integer(child); break;
      case 'MaximalLength': constraints.maximalLength = integer(child); break;
      case 'ElementCount': constraints.elementCount = integer(child); break;
      case 'MinimalElementCount': constraints.minimalElementCount = integer(child); break;
      case 'MaximalElementCount': constraints.maximalElementCount = integer(child); break;
      case 'Pattern': constraints.pattern = text(child); break;
      case 'MaximalExclusive': constraints.maximalExclusive = text(child); break;
      case 'MaximalInclusive': constraints.maximalInclusive = text(child); break;
      case 'MinimalExclusive': constraints.minimalExclusive = text(child); break;
      case 'MinimalInclusive': constraints.minimalInclusive = text(child); break;
      case 'Set': {
        const c = new Children(child);
        constraints.set = c.many('Value').map((v) => v.text);
        c.end('<Value>');
        break;
      }
      case 'Unit': {
        const c = new Children(child);
        const label = text(c.required('Label'));
        const factor = decimal(c.required('Factor'));
        const offset = decimal(c.required('Offset'));
        const components = c.many('UnitComponent').map((u) => {
          const uc = new Children(u);
          const component = { siUnit: text(uc.required('SIUnit')), exponent: Number(text(uc.required('Exponent'))) };
          uc.end('nothing after <Exponent>');
          return component;
        });
        c.end('<UnitComponent>');
        constraints.unit = { label, factor, offset, components };
        break;
      }
      case 'ContentType': {
        const c = new Children(child);
        const type = text(c.required('Type'));
        const subtype = text(c.required('Subtype'));
        const parameters = (c.optional('Parameters')?.children ?? []).map((p) => {
          const pc = new Children(p);
          return { attribute: text(pc.required('Attribute')), value: text(pc.required('Value')) };
        });
        c.end('<Parameters>');
        constraints.contentType = { type, subtype, parameters };
        break;
      }
      case 'FullyQualifiedIdentifier': {
        const kind = text(child);
        if (!(FQI_KINDS as readonly string[]).includes(kind)) throw new FdlError(child.line, child.col, `expected one of ${FQI_KINDS.join(', ')}, got '${kind}'`);
        constraints.fullyQualifiedIdentifier = kind as FqiKind;
        break;
      }
      case 'Schema': {
        const c = new Children(child);
        const typeElement = c.required('Type');
        const type = text(typeElement);
        if (type !== 'Xml' && type !== 'Json') throw new FdlError(typeElement.line, typeElement.col, `expected Xml or Json, got '${type}'`);
        const url = c.optional('Url');
        const inline = url ? undefined : c.optional('Inline') ?? c.optional('Content');
        if (!url && !inline) c.required('Url');
        c.end('nothing after the schema source');
        constraints.schema = { type, url: url ? text(url) : undefined, inline: inline ? inline.text : undefined };
        break;
      }
      case 'AllowedTypes': {
        const c = new Children(child);
        constraints.allowedTypes = c.many('DataType').map(readDataType);
        c.end('<DataType>');
        break;
      }
    }
  }
  if (constraints.pattern !== undefined) {
    try {
      new RegExp(constraints.pattern, 'u');
    } catch {
      const p = element.children.find((c) => c.name === 'Pattern')!;
      throw new FdlError(p.line, p.col, `pattern '${constraints.pattern}' is not a valid regular expression`);
    }
  }
  return constraints;
}

function checkReferences(feature: Feature, positions: Map<object, Element>): void {
  const duplicates = (items: Described[], what: string) => {
    const seen = new Set<string>();
    for (const item of items) {
      if (seen.has(item.identifier)) {
        const at = positions.get(item)!;
        throw new FdlError(at.line, at.col, `duplicate ${what} identifier '${item.identifier}'`);
      }
      seen.add(item.identifier);
    }
  };
  duplicates(feature.commands, 'command');
  duplicates(feature.properties, 'property');
  duplicates(feature.metadata, 'metadata');
  duplicates(feature.errors, 'defined execution error');
  duplicates(feature.dataTypes, 'data type');
  const errorIds = feature.errors.map((e) => e.identifier);
  for (const owner of [...feature.commands, ...feature.properties, ...feature.metadata]) {
    for (const error of owner.errors) {
      if (!errorIds.includes(error)) {
        const at = positions.get(owner)!;
        throw new FdlError(at.line, at.col, `${owner.identifier} refers to undefined error '${error}'; define it with <DefinedExecutionError>`);
      }
    }
  }
  const typeIds = feature.dataTypes.map((d) => d.identifier);
  const walk = (dataType: DataType): void => {
    switch (dataType.kind) {
      case 'reference':
        if (!typeIds.includes(dataType.identifier)) {
          const at = dataTypePositions.get(dataType)!;
          throw new FdlError(at.line, at.col, `unknown data type '${dataType.identifier}'; expected one of the feature's <DataTypeDefinition>s${typeIds.length ? ` (${typeIds.join(', ')})` : ''}`);
        }
        return;
      case 'list':
        return walk(dataType.element);
      case 'structure':
        return dataType.elements.forEach((e) => walk(e.dataType));
      case 'constrained':
        walk(dataType.base);
        return dataType.constraints.allowedTypes?.forEach(walk);
      case 'basic':
        return;
    }
  };
  for (const c of feature.commands) [...c.parameters, ...c.responses, ...c.intermediateResponses].forEach((p) => walk(p.dataType));
  for (const item of [...feature.properties, ...feature.metadata, ...feature.dataTypes]) walk(item.dataType);
}

/** Reads a standalone <DataType> element, as carried in the type field of an Any value. */
export function parseDataTypeXml(xml: string): DataType {
  const root = parseXml(xml);
  if (root.name !== 'DataType') throw new FdlError(root.line, root.col, `expected a <DataType> element, found <${root.name}>`);
  const dataType = readDataType(root);
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

/** Writes a data type as a <DataType> element (compact, no namespace), the form Any values carry. */
export function dataTypeToXml(dataType: DataType): string {
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  const described = (d: { identifier: string; displayName: string; description: string }) =>
    `<Identifier>${d.identifier}</Identifier><DisplayName>${esc(d.displayName)}</DisplayName><Description>${esc(d.description)}</Description>`;
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
        return `<Constrained>${dataTypeToXml(d.base)}<Constraints>${constraintsXml(d.constraints, esc)}</Constraints></Constrained>`;
    }
  };
  return `<DataType>${inner(dataType)}</DataType>`;
}

function constraintsXml(c: Constraints, esc: (s: string) => string): string {
  const parts: string[] = [];
  const simple = (name: string, value: string | number | undefined) => {
    if (value !== undefined) parts.push(`<${name}>${esc(String(value))}</${name}>`);
  };
  simple('Length', c.length);
  simple('MinimalLength', c.minimalLength);
  simple('MaximalLength', c.maximalLength);
  if (c.set) parts.push(`<Set>${c.set.map((v) => `<Value>${esc(v)}</Value>`).join('')}</Set>`);
  simple('Pattern', c.pattern);
  simple('MaximalExclusive', c.maximalExclusive);
  simple('MaximalInclusive', c.maximalInclusive);
  simple('MinimalExclusive', c.minimalExclusive);
  simple('MinimalInclusive', c.minimalInclusive);
  if (c.unit) {
    const components = c.unit.components.map((u) => `<UnitComponent><SIUnit>${u.siUnit}</SIUnit><Exponent>${u.exponent}</Exponent></UnitComponent>`).join('');
    parts.push(`<Unit><Label>${esc(c.unit.label)}</Label><Factor>${c.unit.factor}</Factor><Offset>${c.unit.offset}</Offset>${components}</Unit>`);
  }
  if (c.contentType) {
    const params = c.contentType.parameters.length
      ? `<Parameters>${c.contentType.parameters.map((p) => `<Parameter><Attribute>${esc(p.attribute)}</Attribute><Value>${esc(p.value)}</Value></Parameter>`).join('')}</Parameters>`
      : '';
    parts.push(`<ContentType><Type>${esc(c.contentType.type)}</Type><Subtype>${esc(c.contentType.subtype)}</Subtype>${params}</ContentType>`);
  }
  simple('ElementCount', c.elementCount);
  simple('MinimalElementCount', c.minimalElementCount);
  simple('MaximalElementCount', c.maximalElementCount);
  simple('FullyQualifiedIdentifier', c.fullyQualifiedIdentifier);
  if (c.schema) parts.push(`<Schema><Type>${c.schema.type}</Type>${c.schema.url !== undefined ? `<Url>${esc(c.schema.url)}</Url>` : `<Inline>${esc(c.schema.inline ?? '')}</Inline>`}</Schema>`);
  if (c.allowedTypes) parts.push(`<AllowedTypes>${c.allowedTypes.map(dataTypeToXml).join('')}</AllowedTypes>`);
  return parts.join('');
}
