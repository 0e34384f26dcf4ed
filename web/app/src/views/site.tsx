/** The site: every workcell mirrored to PostgreSQL, their batches and open holds. */
import type { SiteResponse } from '../api-types.ts';
import { useApi } from '../live.ts';
import { Empty, Pending, Problem, Section, time } from '../ui.tsx';
import { Table } from './record.tsx';

export function SiteView() {
  const { data, error } = useApi<SiteResponse>('/api/site', { live: true });
  if (!data) return <Pending view="site-view" title="Site" error={error} />;
  // A workcell is named by the database it was copied from; its log id tells two copies of one file apart.
  const names = new Map(data.workcells.map((w) => [w.workcell, w.file]));
  const name = (id: string) => names.get(id) ?? id;
  return (
    <div class="view site-view">
      <h1>Site</h1>
      <Problem error={error} />
      <Section title="Workcells" count={data.workcells.length}>
        {data.workcells.length === 0 ? <Empty>No workcell is mirrored to this PostgreSQL database.</Empty> : <Table head={['workcell (database)', 'log id', 'entries copied', 'latest batch event']} rows={data.workcells.map((w) => [w.file, <span class="hash">{w.workcell}</span>, w.entries.toLocaleString('en-US'), time(w.lastEntryAt)])} />}
      </Section>
      <Section title="Open holds" count={data.holds.length}>
        {data.holds.length === 0 ? <Empty>No batch on the site is held.</Empty> : <Table head={['workcell', 'batch', 'step', 'kind', 'message', 'since']} rows={data.holds.map((h) => [name(h.workcell), h.batchId, h.step, h.kind, h.message, time(h.since)])} />}
      </Section>
      <Section title="Batches" count={data.batches.length}>
        {data.batches.length === 0 ? <Empty>No batch mirrored.</Empty> : <Table head={['workcell', 'batch', 'patient', 'status', 'step']} rows={data.batches.map((b) => [name(b.workcell), b.batchId, b.patient ?? '-', b.status, b.step ?? '-'])} />}
      </Section>
    </div>
  );
}
