/**
 * The site view (/api/site): every workcell log mirrored to the site's PostgreSQL (`workcell mirror`),
 * its batches with their state and step, and the holds open in them, read from the copy.
 */
import { PostgresMirror } from '../../orchestrator/postgres-mirror.ts';

const TYPES = ['batch.started', 'step.started', 'hold.opened', 'hold.resolved', 'batch.completed', 'batch.quarantined'] as const;

export interface SiteView {
  workcells: Array<{ workcell: string; file: string; lastEntryAt: number | null; entries: number }>;
  batches: Array<{ workcell: string; batchId: string; patient?: string; status: string; step?: string }>;
  holds: Array<{ workcell: string; batchId: string; step: string; kind: string; message: string; since: number }>;
}

export async function siteView(postgres: string): Promise<SiteView> {
  const mirror = new PostgresMirror(postgres);
  try {
    const logs = await mirror.logs();
    const batches = new Map<string, SiteView['batches'][number]>();
    const holds = new Map<string, SiteView['holds'][number]>();
    const lastAt = new Map<string, number>();
    for (const { source, entry } of await mirror.entriesOfTypes(TYPES)) {
      const key = `${source}\u0000${entry.stream}`;
      lastAt.set(source, Math.max(lastAt.get(source) ?? 0, entry.at));
      if (entry.type === 'batch.started') batches.set(key, { workcell: source, batchId: entry.stream, patient: entry.data.patient, status: 'in progress' });
      const batch = batches.get(key);
      if (!batch) continue;
      if (entry.type === 'step.started') batch.step = entry.data.step;
      if (entry.type === 'hold.opened') {
        holds.set(key, { workcell: source, batchId: entry.stream, step: entry.data.step, kind: entry.data.kind, message: entry.data.message, since: entry.at });
        batch.status = 'held';
      }
      if (entry.type === 'hold.resolved') {
        holds.delete(key);
        batch.status = 'in progress';
      }
      if (entry.type === 'batch.completed' || entry.type === 'batch.quarantined') {
        holds.delete(key);
        batch.status = entry.type === 'batch.completed' ? 'completed' : 'quarantined';
      }
    }
    return {
      workcells: logs.map((l) => ({ workcell: l.source, file: l.file, lastEntryAt: lastAt.get(l.source) ?? null, entries: l.entries })),
      batches: [...batches.values()],
      holds: [...holds.values()],
    };
  } finally {
    await mirror.close();
  }
}
