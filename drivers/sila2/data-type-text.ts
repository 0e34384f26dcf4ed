/** Data types and their constraints as a reader wants them, e.g. "Constrained<Real> [minimalInclusive 0, maximalInclusive 100, unit degC]". */
import type { Constraints, DataType } from './feature.ts';

const ORDER: Array<keyof Constraints> = [
  'length', 'minimalLength', 'maximalLength', 'pattern', 'set',
  'minimalExclusive', 'minimalInclusive', 'maximalExclusive', 'maximalInclusive', 'unit', 'contentType',
  'elementCount', 'minimalElementCount', 'maximalElementCount', 'fullyQualifiedIdentifier', 'schema', 'allowedTypes',
];

const quoted = (text: string) => `'${text}'`;

/** A short human-readable rendering: "List<Constrained<String>>", "Structure{X: Real, Y: Real}". */
export function describeDataType(dataType: DataType): string {
  switch (dataType.kind) {
    case 'basic':
      return dataType.basic;
    case 'list':
      return `List<${describeDataType(dataType.element)}>`;
    case 'structure':
      return `Structure{${dataType.elements.map((e) => `${e.identifier}: ${describeDataType(e.dataType)}`).join(', ')}}`;
    case 'constrained':
      return `${describeDataType(dataType.base)} [${describeConstraints(dataType.constraints)}]`;
    case 'reference':
      return dataType.identifier;
  }
}

/** Each constraint with its value: "minimalInclusive 0, maximalInclusive 100, unit degC". */
export function describeConstraints(constraints: Constraints): string {
  const parts: string[] = [];
  for (const key of ORDER) {
    const value = constraints[key];
    if (value === undefined) continue;
    parts.push(`${key} ${describeValue(key, value as NonNullable<Constraints[typeof key]>)}`);
  }
  return parts.join(', ');
}

function describeValue(key: keyof Constraints, value: NonNullable<Constraints[keyof Constraints]>): string {
  switch (key) {
    case 'pattern':
      return quoted(value as string);
    case 'set':
      return `{${(value as string[]).map(quoted).join(', ')}}`;
    case 'unit': {
      const unit = value as NonNullable<Constraints['unit']>;
      return unit.label || unit.components.map((c) => `${c.siUnit}^${c.exponent}`).join(' ');
    }
    case 'contentType': {
      const type = value as NonNullable<Constraints['contentType']>;
      return `${type.type}/${type.subtype}${type.parameters.map((p) => `; ${p.attribute}=${p.value}`).join('')}`;
    }
    case 'schema': {
      const schema = value as NonNullable<Constraints['schema']>;
      return `${schema.type} ${schema.url ?? '(inline)'}`;
    }
    case 'allowedTypes':
      return `{${(value as DataType[]).map(describeDataType).join(', ')}}`;
    default:
      return String(value);
  }
}
