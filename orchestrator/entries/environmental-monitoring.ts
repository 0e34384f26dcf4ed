/** Entries of environmental monitoring: settle plates placed, exposed while batches were open, collected, read. */
import { Type } from '@sinclair/typebox';
import { entry, flag, hours, isoTime, marker, number, text } from './fields.ts';

const plateId = text('Settle plate id');
const zone = text('The zone it monitors');
const grade = text('EU GMP grade of the zone (A, B, C, D)');

const plateRead = {
  plateId,
  zone,
  grade,
  location: text('Where it was exposed'),
  exposure: Type.Object({ from: isoTime('Exposed from'), until: isoTime('Exposed until') }, { description: 'When it was exposed', additionalProperties: false }),
  colonies: number('Colonies counted (CFU)'),
  limit: number('The limit of the grade (CFU per 4 h)'),
  withinLimit: flag('Whether the count is within the limit'),
};

export const emEntries = {
  'em.plate.placed': entry('A settle plate was opened at a location (workcell stream).', {
    plateId,
    zone,
    grade,
    location: text('The settle-plate location'),
    handler: text('The module that placed it'),
    adopted: marker('A placement a restart interrupted, finished and adopted'),
    exposedSince: Type.Optional(isoTime('Exposed since (an adopted plate: when its placement was sent)')),
  }),
  'em.plate.batch': entry('A batch was open in the zone while this plate was exposed (workcell stream).', { plateId, batchId: text('The batch'), zone }),
  'em.plate.retrieved': entry('A settle plate was closed and collected (workcell stream).', { plateId, exposureHours: hours('How long it was exposed') }),
  'em.plate.read': entry('A settle plate was incubated and its colonies counted (workcell stream).', plateRead),
  'em.result': entry('A settle plate read while the batch was open in its zone.', plateRead),
};
