/**
 * The workcell now, as /api/status, /api/holds and the live stream's `status` events give it. The
 * orchestrator rewrites its live view several times a second; what comes from the log itself (open
 * holds, modules out of service, records awaiting review, alarms) is read again only when the log grew.
 */
import { loadWorkcell } from '../../config/validate.ts';
import type { EventLog } from '../../orchestrator/event-log.ts';
import { HOLD_ACTIONS } from '../../orchestrator/entries/index.ts';
import { lastRunSettings, workcellNow } from '../../orchestrator/run-settings.ts';
import { authorityOf, type Role } from '../../orchestrator/signatures.ts';
import { liveStatus, workcellOverview, type OpenHoldView, type WorkcellOverview } from '../../orchestrator/workcell-overview.ts';

type HoldAction = (typeof HOLD_ACTIONS)[number];

export interface MenuOption {
  /** What an answer sends: the action, or `continue:IDENTIFIER` for a device's option (which may be named like an action: a device's own `retry`). */
  option: string;
  action: HoldAction;
  /** With `continue`: the device's option sent back to it. */
  deviceOption?: string;
  label: string;
  meaning: string;
  roles: Role[];
}

export type HoldWithMenu = OpenHoldView & { menu: MenuOption[]; holdTimeLeftMs: number | null };

const LABELS: Record<Exclude<HoldAction, 'continue'>, string> = { retry: 'Retry the step', skip: 'Skip the step', abort: 'Abort to quarantine' };

/** The answers a hold offers: retry, skip, abort as offered, and each of the device's own options. */
export function holdMenu(hold: OpenHoldView): MenuOption[] {
  const actions = hold.actions.filter((a): a is Exclude<HoldAction, 'continue'> => a !== 'continue').map((action) => ({ option: action, action, label: LABELS[action], meaning: authorityOf(action).meaning, roles: [...authorityOf(action).roles] }));
  const device = hold.actions.includes('continue') ? hold.deviceOptions.map((o) => ({ option: `continue:${o.identifier}`, action: 'continue' as const, deviceOption: o.identifier, label: `Device: ${o.description || o.identifier}`, meaning: authorityOf('continue').meaning, roles: [...authorityOf('continue').roles] })) : [];
  return [...actions, ...device];
}

export class StatusCache {
  private fromLog: WorkcellOverview | undefined;
  /** Something but samples was appended since fromLog was read. */
  private logChanged = true;
  /** The latest workcell time any entry carries, up to a log position: followed entry by entry, not scanned for. */
  private latest: { seq: number; at: number } | undefined;
  private lanes: { layoutFile: string; byModule: Map<string, string[]> } | undefined;

  constructor(private readonly log: EventLog) {}

  /** The overview, each hold with its menu and the hold time left now, each module with its lanes. */
  overview(): WorkcellOverview & { holds: HoldWithMenu[] } {
    this.follow(this.log.lastSeq());
    if (!this.fromLog || this.logChanged) {
      this.fromLog = workcellOverview(this.log);
      this.logChanged = false;
    }
    const { view, updatedAt } = liveStatus(this.log);
    const lanes = this.modulesLanes();
    const status = view && { ...view, modules: view.modules.map((m) => ({ ...m, lanes: lanes.get(m.id) })) };
    const now = workcellNow(this.log, Date.now(), this.latest!.at);
    const holds = this.fromLog.holds.map((hold) => ({ ...hold, menu: holdMenu(hold), holdTimeLeftMs: hold.holdTime ? hold.holdTime.deadline - now : null }));
    return { ...this.fromLog, holds, status, updatedAt };
  }

  holds(): HoldWithMenu[] {
    return this.overview().holds;
  }

  /** The workcell clock now, as workcellNow reads it, without a scan of the log for its latest time. */
  now(): number {
    this.follow(this.log.lastSeq());
    return workcellNow(this.log, Date.now(), this.latest!.at);
  }

  /**
   * Reads what was appended up to `upTo` since last time: the latest time, and whether anything but
   * sensor samples and module states came (those change no hold, review or alarm, and a running
   * workcell writes them many times a second). A long way behind, the log is asked instead.
   */
  private follow(upTo: number): void {
    const from = this.latest?.seq;
    if (from === upTo) return;
    if (from === undefined || upTo - from > 5000) {
      this.latest = { seq: upTo, at: this.log.lastAt() };
      this.logChanged = true;
      return;
    }
    let at = this.latest!.at;
    for (let cursor = from; cursor < upTo; ) {
      const page = this.log.page(cursor, 1000).filter((e) => e.seq <= upTo);
      if (page.length === 0) break;
      for (const entry of page) {
        at = Math.max(at, entry.at);
        if (entry.type !== 'telemetry' && entry.type !== 'module.state') this.logChanged = true;
      }
      cursor = page[page.length - 1]!.seq;
    }
    this.latest = { seq: upTo, at };
  }

  /** The lanes each module serves, from the layout of the last run (none when it cannot be read now). */
  private modulesLanes(): Map<string, string[]> {
    const layoutFile = lastRunSettings(this.log)?.layoutFile;
    if (!layoutFile) return new Map();
    if (this.lanes?.layoutFile !== layoutFile) {
      let byModule = new Map<string, string[]>();
      try {
        const { model } = loadWorkcell(layoutFile).layout;
        byModule = new Map(model.layout.modules.map((m) => [m.id, model.lanesOf(m)]));
      } catch {
        // The layout file moved or changed since the run: the status still shows, without lanes.
      }
      this.lanes = { layoutFile, byModule };
    }
    return this.lanes.byModule;
  }
}
