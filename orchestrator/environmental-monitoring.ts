/**
 * Environmental monitoring with settle plates (EU GMP Annex 1): a plate is exposed in a zone before a
 * monitored step starts there, replaced at most every 4 h while any monitored step runs, then
 * retrieved, incubated and read. The result goes into the record of every batch that was open in the
 * zone during the plate's exposure, and a count over the grade's limit is a deviation on each of them.
 * Plate state lives in the workcell stream of the log, so a restart picks up exposed and incubating plates.
 */
import type { LayoutModel, ModuleConfig } from '../config/layout.ts';
import { timeOfDay, type Clock } from '../drivers/clock.ts';
import { WORKCELL_STREAM, type EventLog, type NewEntry } from './event-log.ts';
import { isEntry } from './entries.ts';
import type { MaterialGate } from './material-gate.ts';
import type { ResultValue } from '../drivers/module.ts';

/** Action limits in CFU per plate per 4 h (domain brief; grade A: any growth is a deviation). */
export const SETTLE_PLATE_LIMITS = { A: 0, B: 5, C: 50, D: 100 } as const;
export const MAX_EXPOSURE_MS = 4 * 3_600_000;

interface ExposedPlate {
  plateId: string;
  zone: string;
  location: string;
  handler: string;
  placedAt: number;
  batches: Set<string>;
}

/**
 * Per batch, the settle plates exposed while it was open whose colonies are not counted yet: its
 * record is not complete without them.
 */
export function unreadPlatesByBatch(log: EventLog): Map<string, string[]> {
  const entries = log.stream(WORKCELL_STREAM);
  const read = new Set(entries.filter(isEntry('em.plate.read')).map((e) => e.data.plateId));
  const unread = new Map<string, string[]>();
  for (const e of entries) {
    if (e.type !== 'em.plate.batch' || read.has(e.data.plateId)) continue;
    const plates = unread.get(e.data.batchId) ?? [];
    if (!plates.includes(e.data.plateId)) plates.push(e.data.plateId);
    unread.set(e.data.batchId, plates);
  }
  return unread;
}

export class EnvironmentalMonitoring {
  /** Exposed plate per zone. */
  private readonly exposed = new Map<string, ExposedPlate>();
  /** Batches running a monitored step, per zone, with how many such steps each runs there. */
  private readonly open = new Map<string, Map<string, number>>();
  private readonly pending = new Set<Promise<void>>();
  private readonly zoneLocks = new Map<string, Promise<void>>();
  /** One command at a time per handler: it places and collects plates for every zone it serves. */
  private readonly handlerLocks = new Map<string, Promise<void>>();
  private plateCounter = 0;
  private stopped = false;
  /** One per exposed plate's replacement timer, so that stopping cancels them all. */
  private readonly rotations = new Set<AbortController>();

  constructor(
    private readonly layout: LayoutModel,
    private readonly gate: MaterialGate,
    private readonly log: EventLog,
    private readonly clock: Clock,
    private readonly runId: string,
  ) {}

  /** Picks up plates that were exposed or incubating when the orchestrator stopped. */
  restore(): void {
    const entries = this.log.stream(WORKCELL_STREAM);
    const placed = new Map<string, ExposedPlate>();
    for (const entry of entries) {
      if (entry.type === 'em.plate.placed') {
        const { plateId, zone, location, handler } = entry.data;
        placed.set(plateId, { plateId, zone, location, handler, placedAt: entry.at, batches: new Set() });
        this.plateCounter++;
      }
      if (entry.type === 'em.plate.batch') placed.get(entry.data.plateId)?.batches.add(entry.data.batchId);
    }
    const retrievedAt = new Map<string, number>();
    for (const e of entries) if (e.type === 'em.plate.retrieved' && !retrievedAt.has(e.data.plateId)) retrievedAt.set(e.data.plateId, e.at);
    const read = new Set(entries.filter(isEntry('em.plate.read')).map((e) => e.data.plateId));
    // A placement the crash interrupted: the plate may be exposed now. Its command is re-attached (never
    // sent anew under another plate id) and the plate adopted, before any monitored step enters the zone.
    for (const issued of entries.filter(isEntry('command.issued', (e) => /^em:.+:place$/.test(e.data.key)))) {
      const { plateId, location } = issued.data.parameters;
      if (typeof plateId !== 'string' || typeof location !== 'string' || placed.has(plateId)) continue;
      this.plateCounter++;
      const zone = (this.layout.layout.zones ?? []).find((z) => z.settlePlateLocations?.some((l) => l.id === location));
      if (zone) void this.serialized(zone.id, () => this.adopt({ plateId, zone: zone.id, location, handler: issued.data.module, placedAt: issued.at, batches: new Set() }, issued.data.key));
    }
    for (const plate of placed.values()) {
      const retrieved = retrievedAt.get(plate.plateId);
      if (retrieved === undefined) this.exposed.set(plate.zone, plate);
      else if (!read.has(plate.plateId)) this.track(this.incubateAndRead(plate, retrieved));
    }
    // Plates left exposed with nobody in the zone any more are collected now.
    for (const zone of [...this.exposed.keys()]) this.track(this.whenZoneIdle(zone));
  }

  /** Finishes a placement a crash interrupted and records the plate as exposed since the command was sent. */
  private async adopt(plate: ExposedPlate, key: string): Promise<void> {
    try {
      await this.onHandler(plate.handler, 'place-plate', { location: plate.location, plateId: plate.plateId }, key);
    } catch (error) {
      this.log.append({ stream: WORKCELL_STREAM, type: 'alarm', at: this.clock.now(), data: { kind: 'environmental-monitoring', message: `the placement of ${plate.plateId} at ${plate.location}, interrupted by a restart, could not be confirmed: ${(error as Error).message}; check the location` } });
      return;
    }
    const grade = this.layout.zone(plate.zone)!.grade;
    this.log.append({ stream: WORKCELL_STREAM, type: 'em.plate.placed', at: this.clock.now(), data: { plateId: plate.plateId, zone: plate.zone, grade, location: plate.location, handler: plate.handler, adopted: true, exposedSince: new Date(plate.placedAt).toISOString() } });
    this.exposed.set(plate.zone, plate);
    const near = this.layout.layout.modules.find((m) => m.zone === plate.zone && m.kind !== 'settle-plate-handler');
    if (near) this.track(this.rotate(plate, near));
    this.track(this.whenZoneIdle(plate.zone));
  }

  /** A monitored step of `batchId` is about to start on `module`: make sure a plate is exposed there. */
  async enter(batchId: string, module: ModuleConfig): Promise<void> {
    const zone = module.zone;
    if (!zone) return;
    const inZone = this.open.get(zone) ?? new Map<string, number>();
    this.open.set(zone, inZone);
    inZone.set(batchId, (inZone.get(batchId) ?? 0) + 1);
    await this.serialized(zone, async () => {
      let plate = this.exposed.get(zone);
      if (!plate) plate = await this.place(zone, module);
      this.join(plate, batchId);
    });
  }

  /** The monitored step ended; the last one out of a zone has its plate collected. */
  leave(batchId: string, module: ModuleConfig): void {
    const zone = module.zone;
    if (!zone) return;
    const inZone = this.open.get(zone);
    const count = (inZone?.get(batchId) ?? 0) - 1;
    if (count > 0) inZone!.set(batchId, count);
    else inZone?.delete(batchId);
    this.track(this.whenZoneIdle(zone));
  }

  private join(plate: ExposedPlate, batchId: string): void {
    if (plate.batches.has(batchId)) return;
    plate.batches.add(batchId);
    this.log.append({ stream: WORKCELL_STREAM, type: 'em.plate.batch', at: this.clock.now(), data: { plateId: plate.plateId, batchId, zone: plate.zone } });
  }

  private async whenZoneIdle(zone: string): Promise<void> {
    await this.serialized(zone, async () => {
      const plate = this.exposed.get(zone);
      if (!plate || (this.open.get(zone)?.size ?? 0) > 0) return;
      await this.retrieve(plate);
    });
  }

  private async place(zoneId: string, near: ModuleConfig): Promise<ExposedPlate> {
    const zone = this.layout.zone(zoneId)!;
    const handler = this.layout.settlePlateHandlersFor(zoneId)[0];
    if (!handler) throw new Error(`no settle-plate handler serves zone ${zoneId}`);
    const locations = zone.settlePlateLocations ?? [];
    // The location named after the module's kind (sp-west-electroporator), else the zone's first.
    const word = near.kind.split('-').at(-1)!;
    const location = (locations.find((l) => l.id.includes(word)) ?? locations[0])?.id;
    if (!location) throw new Error(`zone ${zoneId} has no settle-plate location`);
    const plateId = `SP-${this.runId}-${String(++this.plateCounter).padStart(3, '0')}`;
    await this.onHandler(handler.id, 'place-plate', { location, plateId }, `em:${plateId}:place`);
    const plate: ExposedPlate = { plateId, zone: zoneId, location, handler: handler.id, placedAt: this.clock.now(), batches: new Set() };
    this.log.append({ stream: WORKCELL_STREAM, type: 'em.plate.placed', at: plate.placedAt, data: { plateId, zone: zoneId, grade: zone.grade, location, handler: handler.id } });
    this.exposed.set(zoneId, plate);
    this.track(this.rotate(plate, near));
    return plate;
  }

  /** Replaces a plate before it has been exposed for 4 h while the zone is still in use. */
  private async rotate(plate: ExposedPlate, near: ModuleConfig): Promise<void> {
    const rotation = new AbortController();
    this.rotations.add(rotation);
    try {
      await this.clock.sleep(Math.max(0, plate.placedAt + MAX_EXPOSURE_MS - 5 * 60_000 - this.clock.now()), rotation.signal);
    } catch {
      return;
    } finally {
      this.rotations.delete(rotation);
    }
    await this.serialized(plate.zone, async () => {
      if (this.exposed.get(plate.zone) !== plate) return;
      const still = [...(this.open.get(plate.zone)?.keys() ?? [])];
      await this.retrieve(plate);
      if (still.length > 0) {
        const next = await this.place(plate.zone, near);
        for (const batchId of still) this.join(next, batchId);
      }
    });
  }

  private async retrieve(plate: ExposedPlate): Promise<void> {
    const results = await this.onHandler(plate.handler, 'retrieve-plate', { location: plate.location, plateId: plate.plateId }, `em:${plate.plateId}:retrieve`);
    this.exposed.delete(plate.zone);
    const retrievedAt = this.clock.now();
    this.log.append({ stream: WORKCELL_STREAM, type: 'em.plate.retrieved', at: retrievedAt, data: { plateId: plate.plateId, exposureHours: Number(results.exposure ?? (retrievedAt - plate.placedAt) / 3_600_000) } });
    this.track(this.incubateAndRead(plate, retrievedAt));
  }

  private async incubateAndRead(plate: ExposedPlate, retrievedAt: number): Promise<void> {
    await this.gate.workcellCommand(plate.handler, 'incubate', { plateId: plate.plateId }, `em:${plate.plateId}:incubate`);
    const read = await this.onHandler(plate.handler, 'read-colonies', { plateId: plate.plateId }, `em:${plate.plateId}:read`);
    const colonies = Number(read.colonies);
    const grade = this.layout.zone(plate.zone)!.grade;
    const limit = SETTLE_PLATE_LIMITS[grade];
    const result = {
      plateId: plate.plateId,
      zone: plate.zone,
      grade,
      location: plate.location,
      exposure: { from: new Date(plate.placedAt).toISOString(), until: new Date(retrievedAt).toISOString() },
      colonies,
      limit,
      withinLimit: colonies <= limit,
    };
    this.log.append({ stream: WORKCELL_STREAM, type: 'em.plate.read', at: this.clock.now(), data: result });
    const batches = [...plate.batches].sort();
    this.log.appendAll(
      batches.flatMap((batchId): NewEntry[] => [
        { stream: batchId, type: 'em.result', at: this.clock.now(), data: result },
        ...(result.withinLimit ? [] : [{ stream: batchId, type: 'deviation' as const, at: this.clock.now(), data: { kind: 'em-excursion' as const, message: `settle plate ${plate.plateId} at ${plate.location} (grade ${grade}) counted ${colonies} CFU, limit ${limit} CFU per 4 h` } }]),
      ]),
    );
  }

  private onHandler(handler: string, capability: string, parameters: Record<string, string>, key: string): Promise<Record<string, ResultValue>> {
    const previous = this.handlerLocks.get(handler) ?? Promise.resolve();
    const next = previous.then(() => this.gate.workcellCommand(handler, capability, parameters, key));
    this.handlerLocks.set(handler, next.then(() => undefined, () => undefined));
    return next;
  }

  private serialized(zone: string, work: () => Promise<void>): Promise<void> {
    const previous = this.zoneLocks.get(zone) ?? Promise.resolve();
    const next = previous.then(work, work);
    this.zoneLocks.set(zone, next.catch(() => undefined));
    return next;
  }

  private track(work: Promise<void>): void {
    const tracked = work.catch((error: Error) => {
      // Work cut short because the run is over (its log closed) has nobody left to tell; resume picks the plate up.
      if (this.stopped) return;
      this.log.append({ stream: WORKCELL_STREAM, type: 'alarm', at: this.clock.now(), data: { kind: 'environmental-monitoring', message: error.message } });
    });
    this.pending.add(tracked);
    void tracked.finally(() => this.pending.delete(tracked));
  }

  /** Resolves once every plate has been read (batches finished, nothing exposed or incubating). */
  async settled(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  /** Plates exposed or incubating, for `workcell status`. */
  summary(): string[] {
    return [...this.exposed.values()].map((p) => `${p.plateId} exposed at ${p.location} (${p.zone}) since ${timeOfDay(p.placedAt, this.clock.now())} for ${[...p.batches].join(', ') || 'no batch yet'}`);
  }

  stop(): void {
    this.stopped = true;
    for (const rotation of this.rotations) rotation.abort();
  }
}
