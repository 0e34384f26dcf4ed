/**
 * Settle plates (EU GMP Annex 1): exposed up to 4 h at a location, incubated, then read. Colonies are
 * drawn per cleanroom grade and exposure (Poisson, mean per 4 h: A 0.05, B 1, C 10, D 30), so grade A
 * is almost always clean and an injected fault can make any plate grow.
 */
import { DefinedExecutionError } from '../../../drivers/sila2/errors.ts';
import { runFor, type KindBehaviour } from './context.ts';

const MEAN_PER_4H = { A: 0.05, B: 1, C: 10, D: 30 } as const;

interface PlateRecord {
  location: string;
  exposedFrom: number;
  exposedUntil?: number;
}

export function settlePlateHandler(): KindBehaviour {
  const plates = new Map<string, PlateRecord>();
  return {
    async 'place-plate'(context) {
      const plateId = String(context.parameters.plateId);
      const location = String(context.parameters.location);
      if (!context.gradeOf(location)) throw new DefinedExecutionError('WrongItem', `no settle-plate location '${location}' is served by this handler`);
      if (context.world.itemAt(location)) throw new DefinedExecutionError('ModuleOccupied', `a plate is already exposed at ${location}`);
      await runFor(context, context.durationSeconds);
      context.world.introduce({ id: plateId, container: 'plate', position: location, material: { cells: 0, viability: 0, volumeMl: 0 } });
      plates.set(plateId, { location, exposedFrom: context.clock.now() });
      return { exposureStart: new Date(context.clock.now()).toISOString() };
    },

    async 'retrieve-plate'(context) {
      const plateId = String(context.parameters.plateId);
      const record = plates.get(plateId);
      if (!record || context.world.itemAt(record.location)?.id !== plateId) throw new DefinedExecutionError('WrongItem', `plate ${plateId} is not exposed at ${String(context.parameters.location)}`);
      await runFor(context, context.durationSeconds);
      record.exposedUntil = context.clock.now();
      context.world.move(plateId, `${context.moduleId}.incubator.${plateId}`);
      return { exposureEnd: new Date(record.exposedUntil).toISOString(), exposure: (record.exposedUntil - record.exposedFrom) / 3_600_000 };
    },

    async incubate(context) {
      await runFor(context, context.durationSeconds, (f) => ({ incubatorTemperature: context.random.normal(f < 0.6 ? 22.5 : 32.5, 0.3) }));
      return { completedAt: new Date(context.clock.now()).toISOString() };
    },

    async 'read-colonies'(context) {
      const plateId = String(context.parameters.plateId);
      const record = plates.get(plateId);
      if (!record?.exposedUntil) throw new DefinedExecutionError('WrongItem', `plate ${plateId} has not been retrieved and incubated`);
      await runFor(context, context.durationSeconds);
      const hours = (record.exposedUntil - record.exposedFrom) / 3_600_000;
      const grade = context.gradeOf(record.location) ?? 'D';
      const colonies = context.forcedColonies ?? context.random.poisson((MEAN_PER_4H[grade] * hours) / 4);
      return { colonies };
    },
  };
}
