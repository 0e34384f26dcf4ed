/**
 * The building blocks of the entry schemas: every field says what it holds, and a number with a unit
 * says which (`unit`, an annotation consumers read; validation ignores it).
 */
import { Type, type TLiteral, type TProperties, type TSchema, type TUnion } from '@sinclair/typebox';

export const text = (description: string) => Type.String({ description });
export const flag = (description: string) => Type.Boolean({ description });
export const number = (description: string) => Type.Number({ description });
/** A position in a stream (`streamSeq` of an entry), from 1. */
export const entryNumber = (description: string) => Type.Integer({ description, minimum: 1 });
export const epochMs = (description: string) => Type.Number({ description, unit: 'ms since the epoch' });
export const seconds = (description: string) => Type.Number({ description, unit: 's' });
export const hours = (description: string) => Type.Number({ description, unit: 'h' });
/** Wall-clock or workcell time as ISO 8601 text in UTC. */
export const isoTime = (description: string) => Type.String({ description: `${description} (ISO 8601, UTC)` });
/** One of the given words (a union of literals, so that TypeScript knows each). */
export function oneOf<const T extends readonly string[]>(values: T, description: string): TUnion<{ -readonly [K in keyof T]: TLiteral<T[K] & string> }> {
  return Type.Union(values.map((v) => Type.Literal(v)), { description }) as TUnion<{ -readonly [K in keyof T]: TLiteral<T[K] & string> }>;
}
export const nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()], { description: schema.description });
/** Always `true` when present: the field marks a variant of the entry. */
export const marker = (description: string) => Type.Optional(Type.Literal(true, { description }));

/** An entry's data: exactly these fields (a field not listed is refused, so the contract stays whole). */
export const entry = <P extends TProperties>(description: string, properties: P) => Type.Object(properties, { description, additionalProperties: false });

export const Value = Type.Union([Type.String(), Type.Number(), Type.Boolean()], { description: 'A parameter or result value' });
/** A result as kept: null where the device reported no finite number (NaN, Infinity), as JSON stores it. */
export const ResultValue = Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null()], { description: 'A result value; null: the device reported no finite number' });
export const Values = (description: string) => Type.Record(Type.String(), Value, { description });
export const ResultValues = (description: string) => Type.Record(Type.String(), ResultValue, { description });
export const Units = (description: string) => Type.Record(Type.String(), Type.String(), { description });

export const Signature = Type.Object(
  {
    user: text('User id of the signer'),
    printedName: text("The signer's printed name"),
    meaning: text('What the signature means (approval to retry the step, ...)'),
    signedAt: isoTime('Wall-clock date and time of signing'),
    contentHash: text('SHA-256 of the canonical JSON of what was signed'),
  },
  { description: 'An electronic signature (21 CFR 11.50): printed name, time, meaning, and the hash of what was signed', additionalProperties: false },
);

export const ExecutionToken = Type.Object(
  {
    module: text('Module id'),
    capability: text('The capability the command runs'),
    protocol: oneOf(['sila2', 'opcua'], 'The protocol of the device'),
    id: text('SiLA command execution UUID or LADS program run id'),
  },
  { description: 'What identifies a command running on a device, durable across restarts', additionalProperties: false },
);

/** A control a step's results failed: the result, its value and the limits (in the result's unit). */
export const FailedControl = Type.Object(
  {
    result: text('The result the control checks'),
    value: nullable(number('Its value, in `unit`; null: not reported as a finite number')),
    unit: text('The unit of value and limits'),
    min: nullable(number('Lower limit, in `unit`; null: none')),
    max: nullable(number('Upper limit, in `unit`; null: none')),
  },
  { additionalProperties: false },
);

/** The command a hold left standing on its device (paused, in a recoverable error, or to re-attach to). */
export const DeviceWork = Type.Object(
  { module: text('Module id'), key: text('Idempotency key of the command'), token: ExecutionToken },
  { additionalProperties: false },
);

export const ContinuationOption = Type.Object(
  { identifier: text("The device's identifier of the option"), description: text('What the option does, in the device\'s words') },
  { additionalProperties: false },
);
