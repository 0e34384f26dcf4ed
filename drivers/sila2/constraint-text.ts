/** Constraints as a reader wants them: each with its value, e.g. "minimalInclusive 0, maximalInclusive 100, unit degC". */
import type { Constraints, DataType } from './feature.ts';

const ORDER: Array<keyof Constraints> = [
  'length', 'minimalLength', 'maximalLength', 'pattern', 'set',
  'minimalExclusive', 'minimalInclusive', 'maximalExclusive', 'maximalInclusive', 'unit', 'contentType',
  'elementCount', 'minimalElementCount', 'maximalElementCount', 'fullyQualifiedIdentifier', 'schema', 'allowedTypes',
];

const quoted = (text: string) => `'${text}'`;

/** `describeType` renders the data types an Any may hold (allowedTypes). */
export function describeConstraints(constraints: Constraints, describeType: (dataType: DataType) => string): string {
  const parts: string[] = [];
  for (const key of ORDER) {
    const value = constraints[key];
    if (value === undefined) continue;
    parts.push(`${key} ${describeValue(key, value as NonNullable<Constraints[typeof key]>, describeType)}`);
  }
  return parts.join(', ');
}

function describeValue(key: keyof Constraints, value: NonNullable<Constraints[keyof Constraints]>, describeType: (dataType: DataType) => string): string {
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
      return `{${(value as DataType[]).map(describeType).join(', ')}}`;
    default:
      return String(value);
  }
}
