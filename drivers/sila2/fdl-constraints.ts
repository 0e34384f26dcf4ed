/**
 * Reads and writes the <Constraints> of a Constrained data type. A constraint that breaks a rule of the
 * standard but leaves the feature usable (one that does not apply to its base type, a bound that is not a
 * literal of the type) is kept as written, reported as a warning, and ignored when values are checked.
 */
import { FQI_KINDS, type BasicType, type Constraints, type DataType, type FqiKind } from './feature.ts';
import { Children, decimal, FdlError, integer, rawText, text, type Element, type Warnings } from './fdl-xml.ts';
import { readLiteral } from './xsd-literals.ts';
import { translateXsdPattern, XsdPatternError } from './xsd-pattern.ts';

export const CONSTRAINT_NAMES = [
  'Length', 'MinimalLength', 'MaximalLength', 'Set', 'Pattern', 'MaximalExclusive', 'MaximalInclusive', 'MinimalExclusive', 'MinimalInclusive',
  'Unit', 'ContentType', 'ElementCount', 'MinimalElementCount', 'MaximalElementCount', 'FullyQualifiedIdentifier', 'Schema', 'AllowedTypes',
] as const;
type ConstraintName = (typeof CONSTRAINT_NAMES)[number];

const BOUNDS = ['MaximalExclusive', 'MaximalInclusive', 'MinimalExclusive', 'MinimalInclusive'] as const;
const ORDERED: ConstraintName[] = ['Set', ...BOUNDS];

/** Which constraints each base type takes (SiLA 2 Part A, as the standard's fdl-validation checks it). */
const APPLICABLE: Record<BasicType | 'List', readonly ConstraintName[]> = {
  String: ['Length', 'MinimalLength', 'MaximalLength', 'Pattern', 'ContentType', 'FullyQualifiedIdentifier', 'Schema', 'Set'],
  Integer: [...ORDERED, 'Unit'],
  Real: [...ORDERED, 'Unit'],
  Binary: ['Length', 'MinimalLength', 'MaximalLength', 'ContentType', 'Schema'],
  Date: ORDERED,
  Time: ORDERED,
  Timestamp: ORDERED,
  Any: ['AllowedTypes'],
  Boolean: [],
  List: ['ElementCount', 'MinimalElementCount', 'MaximalElementCount'],
};

const SI_UNITS = ['Dimensionless', 'Meter', 'Kilogram', 'Second', 'Ampere', 'Kelvin', 'Mole', 'Candela'];

/** The Constraints.xsd enumeration says TypeIdentifier where Part A says DataTypeIdentifier; both are read. */
const FQI_NAMES: readonly string[] = FQI_KINDS;

export function applicableConstraints(base: BasicType | 'List'): readonly string[] {
  return APPLICABLE[base];
}

export function readConstraints(element: Element, base: DataType, readDataType: (element: Element) => DataType, warnings: Warnings): Constraints {
  const constraints: Constraints = {};
  const seen = new Set<string>();
  const baseName = base.kind === 'list' ? 'List' : base.kind === 'basic' ? base.basic : undefined;
  for (const child of element.children) {
    const name = child.name as ConstraintName;
    if (!CONSTRAINT_NAMES.includes(name)) throw new FdlError(child.line, child.col, `unknown constraint <${child.name}>; expected one of ${CONSTRAINT_NAMES.join(', ')}`);
    if (seen.has(name)) throw new FdlError(child.line, child.col, `constraint <${name}> given twice`);
    seen.add(name);
    if (baseName && !APPLICABLE[baseName].includes(name)) {
      warnings.add(child, `constraint <${name}> does not apply to ${baseName === 'List' ? 'a List' : baseName}${APPLICABLE[baseName].length ? ` (it takes ${APPLICABLE[baseName].join(', ')})` : ''}; it is ignored`);
    }
    switch (name) {
      case 'Length': constraints.length = integer(child); break;
      case 'MinimalLength': constraints.minimalLength = integer(child); break;
      case 'MaximalLength': constraints.maximalLength = integer(child); break;
      case 'ElementCount': constraints.elementCount = integer(child); break;
      case 'MinimalElementCount': constraints.minimalElementCount = integer(child); break;
      case 'MaximalElementCount': constraints.maximalElementCount = integer(child); break;
      case 'Pattern': constraints.pattern = readPattern(child, warnings); break;
      case 'MaximalExclusive': constraints.maximalExclusive = text(child); break;
      case 'MaximalInclusive': constraints.maximalInclusive = text(child); break;
      case 'MinimalExclusive': constraints.minimalExclusive = text(child); break;
      case 'MinimalInclusive': constraints.minimalInclusive = text(child); break;
      case 'Set': {
        const c = new Children(child);
        const values = c.many('Value');
        c.end('<Value>');
        if (!values.length) throw new FdlError(child.line, child.col, 'expected at least one <Value> in <Set>');
        constraints.set = values.map(rawText);
        break;
      }
      case 'Unit': constraints.unit = readUnit(child, warnings); break;
      case 'ContentType': {
        const c = new Children(child);
        const type = text(c.required('Type'));
        const subtype = text(c.required('Subtype'));
        const list = c.optional('Parameters');
        c.end('<Parameters>');
        const pc = list ? new Children(list) : undefined;
        const parameters = (pc?.many('Parameter') ?? []).map((p) => {
          const ac = new Children(p);
          const parameter = { attribute: text(ac.required('Attribute')), value: text(ac.required('Value')) };
          ac.end('nothing after <Value>');
          return parameter;
        });
        pc?.end('<Parameter>');
        constraints.contentType = { type, subtype, parameters };
        break;
      }
      case 'FullyQualifiedIdentifier': {
        const kind = text(child);
        if (!FQI_NAMES.includes(kind)) throw new FdlError(child.line, child.col, `expected one of ${FQI_KINDS.join(', ')}, got '${kind}'`);
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
        if (!constraints.allowedTypes.length) throw new FdlError(child.line, child.col, 'expected at least one <DataType> in <AllowedTypes>');
        break;
      }
    }
  }
  if (base.kind === 'basic') checkLiterals(element, base.basic, constraints, warnings);
  return constraints;
}

function readPattern(element: Element, warnings: Warnings): string {
  // xs:string: the white space around a pattern is part of it.
  const pattern = rawText(element);
  try {
    for (const warning of translateXsdPattern(pattern).warnings) warnings.add(element, `pattern '${pattern}': ${warning}`);
  } catch (error) {
    if (!(error instanceof XsdPatternError)) throw error;
    throw new FdlError(element.line, element.col, `pattern '${pattern}' is not a valid XML Schema regular expression: column ${error.column}: ${error.detail}`);
  }
  if (pattern !== pattern.trim()) warnings.add(element, `pattern '${pattern}' begins or ends with white space, which values must then contain`);
  return pattern;
}

function readUnit(element: Element, warnings: Warnings): NonNullable<Constraints['unit']> {
  const c = new Children(element);
  const label = text(c.required('Label'));
  const factor = decimal(c.required('Factor'));
  const offset = decimal(c.required('Offset'));
  const components = c.many('UnitComponent').map((u) => {
    const uc = new Children(u);
    const unitElement = uc.required('SIUnit');
    const siUnit = text(unitElement);
    if (!SI_UNITS.includes(siUnit)) warnings.add(unitElement, `unknown SI unit '${siUnit}'; expected one of ${SI_UNITS.join(', ')}`);
    const exponentElement = uc.required('Exponent');
    const exponent = text(exponentElement);
    if (!/^[+-]?\d+$/.test(exponent)) throw new FdlError(exponentElement.line, exponentElement.col, `expected a whole number in <Exponent>, got '${exponent}'`);
    uc.end('nothing after <Exponent>');
    return { siUnit, exponent: Number(exponent) };
  });
  c.end('<UnitComponent>');
  if (!components.length) warnings.add(element, `unit '${label}' has no <UnitComponent>; expected at least one`);
  return { label, factor, offset, components };
}

/** Set values and bounds must be literals of the base type; one that is not is ignored, with a warning. */
function checkLiterals(element: Element, basic: BasicType, constraints: Constraints, warnings: Warnings): void {
  if (!APPLICABLE[basic].includes('Set') || basic === 'String') return;
  const named = (name: string) => element.children.find((c) => c.name === name)!;
  const check = (value: string, at: Element, what: string, setValue: boolean): void => {
    const literal = readLiteral(basic, value.trim(), setValue);
    if (!literal.ok) warnings.add(at, `${what} '${value}' is not ${literal.expected}; the constraint is ignored`);
    else if (literal.zoneless) warnings.add(at, `${what} '${value}' has no time zone; it is read as UTC`);
  };
  const setValues = constraints.set ? named('Set').children : [];
  constraints.set?.forEach((value, i) => check(value, setValues[i]!, 'Set value', true));
  const bounds: Record<(typeof BOUNDS)[number], string | undefined> = {
    MaximalExclusive: constraints.maximalExclusive,
    MaximalInclusive: constraints.maximalInclusive,
    MinimalExclusive: constraints.minimalExclusive,
    MinimalInclusive: constraints.minimalInclusive,
  };
  for (const name of BOUNDS) if (bounds[name] !== undefined) check(bounds[name]!, named(name), `<${name}>`, false);
}

/** The inner XML of a <Constraints> element for `c`, in the schema's order. */
export function constraintsXml(c: Constraints, esc: (s: string) => string, dataTypeXml: (dataType: DataType) => string): string {
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
    const components = c.unit.components.map((u) => `<UnitComponent><SIUnit>${esc(u.siUnit)}</SIUnit><Exponent>${u.exponent}</Exponent></UnitComponent>`).join('');
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
  if (c.allowedTypes) parts.push(`<AllowedTypes>${c.allowedTypes.map(dataTypeXml).join('')}</AllowedTypes>`);
  return parts.join('');
}
