/**
 * Layouts: the declarative description of one workcell (layouts/*.yaml, schema layouts/layout.schema.json).
 */
import type { Catalogue, ModuleKind } from './catalogue.ts';
import { parseDuration } from './units.ts';
import { checkConnection, convertOpcUa, type OpcUaConnection, type OpcUaInput, type Sila2Connection } from './layout-connection.ts';

export type { OpcUaConnection, Sila2Connection } from './layout-connection.ts';
import { reportDuplicateIds, reportUnknownReference } from './references.ts';
import type { YamlPath, YamlSource } from './source.ts';

export type LaneList = string[] | 'all';

export interface ModuleConfig {
  id: string;
  kind: string;
  vendor: string;
  model: string;
  serialNumber?: string;
  description?: string;
  capabilities?: string[];
  lanes: LaneList;
  zone?: string;
  positions?: string[];
  /** Absent: the module is never cleared between batches of its own; after a removal by hand it is cleared in no set time. */
  lineClearance?: { durationMs: number; procedure?: string };
  qualification: { validUntil: string; reference?: string };
  calibration?: { validUntil: string; reference?: string };
  connection: { sila2?: Sila2Connection; opcua?: OpcUaConnection };
  /** A robot arm's: the positions it reaches, its transfer time, and the times of particular moves. */
  reach?: { positions: string[]; transferTimeMs: number; transferTimes: { from: string; to: string; timeMs: number }[] };
  servesZones?: string[];
}

/** A module as the layout file writes it (layouts/layout.schema.json); converted into a ModuleConfig at load. */
type ModuleInput = Omit<ModuleConfig, 'lineClearance' | 'reach' | 'connection'> & {
  lineClearance?: { duration: string | number; procedure?: string };
  reach?: { positions: string[]; transferTime: string | number; transferTimes?: { from: string; to: string; time: string | number }[] };
  connection: { sila2?: Sila2Connection; opcua?: OpcUaInput };
};

export interface Zone {
  id: string;
  grade: 'A' | 'B' | 'C' | 'D';
  description?: string;
  settlePlateLocations?: { id: string; description?: string }[];
}

export interface WorkcellPosition {
  id: string;
  role: 'intake' | 'output' | 'storage';
  /** Items the position holds (a storage hotel); slots are addressed as `id.1` .. `id.N`. */
  slots?: number;
  lanes?: LaneList;
  description?: string;
}

export interface Layout {
  layout: { id: string; site: string; description?: string };
  lanes: { id: string; description?: string }[];
  zones?: Zone[];
  positions?: WorkcellPosition[];
  modules: ModuleConfig[];
}

/** Days before expiry at which a qualification or calibration is flagged as a warning. */
export const EXPIRY_WARNING_DAYS = 30;

/** A checked layout, durations in ms, with the questions the validator and the orchestrator ask of it. */
export class LayoutModel {
  readonly modules: ReadonlyMap<string, ModuleConfig>;

  constructor(readonly layout: Layout, readonly catalogue: Catalogue) {
    this.modules = new Map(layout.modules.map((m) => [m.id, m]));
  }

  get id(): string {
    return this.layout.layout.id;
  }

  laneIds(): string[] {
    return this.layout.lanes.map((l) => l.id);
  }

  lanesOf(module: Pick<ModuleConfig, 'lanes'>): string[] {
    return module.lanes === 'all' ? this.laneIds() : module.lanes;
  }

  isShared(module: Pick<ModuleConfig, 'lanes'>): boolean {
    return this.lanesOf(module).length > 1;
  }

  capabilitiesOf(module: ModuleConfig): string[] {
    const kind = this.catalogue.kind(module.kind);
    return module.capabilities ?? Object.keys(kind?.capabilities ?? {});
  }

  /** Modules that may run "kind.capability" for batches in `lane`. */
  modulesFor(lane: string, capabilityReference: string): ModuleConfig[] {
    const dot = capabilityReference.indexOf('.');
    const kind = capabilityReference.slice(0, dot);
    const capability = capabilityReference.slice(dot + 1);
    return this.layout.modules.filter((m) => m.kind === kind && this.lanesOf(m).includes(lane) && this.capabilitiesOf(m).includes(capability));
  }

  positionsOf(module: ModuleConfig): string[] {
    return (module.positions ?? []).map((p) => `${module.id}.${p}`);
  }

  workcellPositions(role: WorkcellPosition['role'], lane: string): WorkcellPosition[] {
    return (this.layout.positions ?? []).filter((p) => p.role === role && (p.lanes === undefined || p.lanes === 'all' || p.lanes.includes(lane)));
  }

  /** The item places of a lane's storage positions: `hotel.1`, `hotel.2`, ... (or `hotel` with one slot). */
  storageSlots(lane: string): string[] {
    return this.workcellPositions('storage', lane).flatMap((p) => ((p.slots ?? 1) > 1 ? Array.from({ length: p.slots! }, (_, i) => `${p.id}.${i + 1}`) : [p.id]));
  }

  /** The workcell position an item place belongs to (`hotel.2` -> hotel). */
  workcellPositionOf(place: string): WorkcellPosition | undefined {
    return (this.layout.positions ?? []).find((p) => p.id === place || ((p.slots ?? 1) > 1 && place.startsWith(`${p.id}.`) && /^\d+$/.test(place.slice(p.id.length + 1))));
  }

  robotArms(lane?: string): ModuleConfig[] {
    return this.layout.modules.filter((m) => m.kind === 'robot-arm' && m.reach && (lane === undefined || this.lanesOf(m).includes(lane)));
  }

  /**
   * Robot arms serving `lane` that reach a position of both ends. An end is a module id
   * (any of its positions will do) or a workcell position id.
   */
  robotsConnecting(from: string, to: string, lane: string): ModuleConfig[] {
    const endPositions = (end: string) => {
      const module = this.modules.get(end);
      return module ? this.positionsOf(module) : [this.workcellPositionOf(end)?.id ?? end];
    };
    const a = endPositions(from);
    const b = endPositions(to);
    return this.robotArms(lane).filter((arm) => {
      const reach = arm.reach?.positions ?? [];
      return a.some((p) => reach.includes(p)) && b.some((p) => reach.includes(p));
    });
  }

  zone(id: string): Zone | undefined {
    return this.layout.zones?.find((z) => z.id === id);
  }

  settlePlateHandlersFor(zoneId: string): ModuleConfig[] {
    return this.layout.modules.filter((m) => m.kind === 'settle-plate-handler' && m.servesZones?.includes(zoneId));
  }
}

export interface LayoutCheckOptions {
  /** The day qualification and calibration are checked against, YYYY-MM-DD (default: today, UTC). */
  today?: string;
}

/**
 * Semantic checks of a schema-valid layout, converting it on the way; findings go into `source`.
 * A value that does not convert is a finding at its place (the model is then not used).
 */
export function checkLayout(source: YamlSource, catalogue: Catalogue, options: LayoutCheckOptions = {}): LayoutModel {
  const layout = source.data as Omit<Layout, 'modules'> & { modules: ModuleInput[] };
  const lanes = new LayoutModel({ ...layout, modules: [] }, catalogue);
  const today = options.today ?? new Date().toISOString().slice(0, 10);

  const laneIds = reportDuplicateIds(source, layout.lanes, ['lanes'], 'lane');
  const zones = layout.zones ?? [];
  const zoneIds = reportDuplicateIds(source, zones, ['zones'], 'zone');
  const locations = zones.flatMap((z, zi) => (z.settlePlateLocations ?? []).map((l, li) => ({ id: l.id, path: ['zones', zi, 'settlePlateLocations', li, 'id'] as YamlPath })));
  reportDuplicateIds(source, locations, null, 'settle-plate location');
  const workcellPositionIds = reportDuplicateIds(source, layout.positions ?? [], ['positions'], 'position');
  reportDuplicateIds(source, layout.modules, ['modules'], 'module');

  const knownPositions = new Set(workcellPositionIds);
  layout.modules.forEach((m) => (m.positions ?? []).forEach((p) => knownPositions.add(`${m.id}.${p}`)));

  (layout.positions ?? []).forEach((position, i) => checkLaneList(source, position.lanes, ['positions', i, 'lanes'], laneIds));

  const endpoints = new Map<string, string>();
  const modules = layout.modules.map((module, i): ModuleConfig => {
    const at: YamlPath = ['modules', i];
    const kind = catalogue.kind(module.kind);
    if (!kind) reportUnknownReference(source, [...at, 'kind'], 'module kind', module.kind, catalogue.kindNames());
    else checkModuleCapabilities(source, module, kind, at);

    checkLaneList(source, module.lanes, [...at, 'lanes'], laneIds);
    if (module.zone !== undefined && !zoneIds.includes(module.zone)) reportUnknownReference(source, [...at, 'zone'], 'zone', module.zone, zoneIds);
    const duplicatePosition = (module.positions ?? []).findIndex((p, pi) => module.positions!.indexOf(p) !== pi);
    if (duplicatePosition >= 0) source.reportAt([...at, 'positions', duplicatePosition], `duplicate position '${module.positions![duplicatePosition]}' on module '${module.id}'`);

    if (kind?.lineClearanceWhenShared && lanes.isShared(module) && !module.lineClearance) {
      source.reportAt([...at, 'lanes'], `module '${module.id}' is shared by lanes ${lanes.lanesOf(module).join(', ')} and needs a lineClearance: a shared ${module.kind} is cleared between batches`);
    }
    const clearance = module.lineClearance;
    const lineClearance = clearance && { ...(clearance.procedure !== undefined ? { procedure: clearance.procedure } : {}), durationMs: nonNegativeMs(source, clearance.duration, [...at, 'lineClearance', 'duration'], 'line clearance') };

    checkValidity(source, module, 'qualification', at, today);
    if (module.calibration) checkValidity(source, module, 'calibration', at, today);

    if (module.reach && module.kind !== 'robot-arm') source.reportAt([...at, 'reach'], `'reach' is for robot arms; module '${module.id}' is a ${module.kind}`, 'key');
    if (!module.reach && module.kind === 'robot-arm') source.reportAt(at, `robot arm '${module.id}' needs 'reach': the positions it reaches and its transfer time`);
    const reach = module.reach && convertReach(source, module, at, knownPositions);

    if (module.servesZones && module.kind !== 'settle-plate-handler') source.reportAt([...at, 'servesZones'], `'servesZones' is for settle-plate handlers; module '${module.id}' is a ${module.kind}`, 'key');
    (module.servesZones ?? []).forEach((z, zi) => {
      if (!zoneIds.includes(z)) reportUnknownReference(source, [...at, 'servesZones', zi], 'zone', z, zoneIds);
    });

    checkConnection(source, module, at, endpoints, catalogue);
    const opcua = module.connection.opcua && convertOpcUa(source, module.connection.opcua, [...at, 'connection', 'opcua']);
    return { ...module, lineClearance, reach, connection: { ...module.connection, opcua } };
  });

  for (const lane of laneIds) {
    if (!layout.modules.some((m) => lanes.lanesOf(m).includes(lane) && m.kind !== 'robot-arm')) {
      const i = layout.lanes.findIndex((l) => l.id === lane);
      source.reportAt(['lanes', i, 'id'], `lane '${lane}' is served by no process module`, 'value', 'warning');
    }
  }
  return new LayoutModel({ ...layout, modules }, catalogue);
}

function checkModuleCapabilities(source: YamlSource, module: ModuleInput, kind: ModuleKind, at: YamlPath): void {
  (module.capabilities ?? []).forEach((capability, ci) => {
    if (!kind.capabilities[capability]) {
      source.reportAt([...at, 'capabilities', ci], `module kind '${kind.kind}' offers no capability '${capability}'; it offers ${Object.keys(kind.capabilities).join(', ')}`);
    }
  });
}

function checkLaneList(source: YamlSource, lanes: LaneList | undefined, at: YamlPath, laneIds: string[]): void {
  if (lanes === undefined || lanes === 'all') return;
  lanes.forEach((lane, i) => {
    if (!laneIds.includes(lane)) reportUnknownReference(source, [...at, i], 'lane', lane, laneIds);
  });
}

/** A duration in ms; one that does not parse or is negative is reported (and read as 0: the model is not used). */
function nonNegativeMs(source: YamlSource, value: unknown, at: YamlPath, what: string): number {
  const parsed = parseDuration(value);
  if (!parsed.ok) {
    source.reportAt(at, `${what}: ${parsed.error}`);
    return 0;
  }
  if (parsed.value < 0) {
    source.reportAt(at, `${what} must not be negative, got '${String(value)}'`);
    return 0;
  }
  return parsed.value * 1000;
}

function checkValidity(source: YamlSource, module: ModuleInput, field: 'qualification' | 'calibration', at: YamlPath, today: string): void {
  const validUntil = module[field]?.validUntil;
  if (validUntil === undefined) return;
  const path = [...at, field, 'validUntil'];
  const date = new Date(`${validUntil}T00:00:00Z`);
  if (Number.isNaN(date.getTime()) || date.toISOString().slice(0, 10) !== validUntil) {
    source.reportAt(path, `'${validUntil}' is not a calendar date`);
    return;
  }
  if (validUntil < today) {
    source.reportAt(path, `${field} of module '${module.id}' expired on ${validUntil}; an expired module is never allocated`);
    return;
  }
  const daysLeft = (date.getTime() - new Date(`${today}T00:00:00Z`).getTime()) / 86_400_000;
  if (daysLeft <= EXPIRY_WARNING_DAYS) source.reportAt(path, `${field} of module '${module.id}' expires on ${validUntil}, in ${daysLeft} day(s)`, 'value', 'warning');
}

function convertReach(source: YamlSource, module: ModuleInput, at: YamlPath, knownPositions: Set<string>): ModuleConfig['reach'] {
  const reach = module.reach!;
  const known = [...knownPositions];
  reach.positions.forEach((p, i) => {
    if (!knownPositions.has(p)) reportUnknownReference(source, [...at, 'reach', 'positions', i], 'position', p, known);
  });
  const transferTimeMs = nonNegativeMs(source, reach.transferTime, [...at, 'reach', 'transferTime'], 'transfer time');
  const transferTimes = (reach.transferTimes ?? []).map((t, i) => {
    for (const end of ['from', 'to'] as const) {
      if (!reach.positions.includes(t[end])) source.reportAt([...at, 'reach', 'transferTimes', i, end], `robot arm '${module.id}' does not reach position '${t[end]}'`);
    }
    return { from: t.from, to: t.to, timeMs: nonNegativeMs(source, t.time, [...at, 'reach', 'transferTimes', i, 'time'], 'transfer time') };
  });
  return { positions: reach.positions, transferTimeMs, transferTimes };
}
