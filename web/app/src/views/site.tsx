/** The site: every workcell mirrored to PostgreSQL, their batches and open holds. */
import type { SiteResponse } from '../api-types.ts';
import { useApi } from '../live.ts';
import { Empty, Pending, Problem, Section, time } from '../ui.tsx';
import { Table } from './record.tsx';

export function SiteView() {
  const { data, error } = useApi<SiteResponse>('/api/site', { live: true });
  if (!data) return <Pending view="site-view" title="Site" error={error} />;
  return (
    <div class="view site-view">
      <h1>Site</h1>
      <Problem error={error} />
      <Section title="Workcells" count={data.workcells.length}>
        {data.workcells.length === 0 ? <Empty>No workcell is mirrored to this PostgreSQL database.</Empty> : <Table head={['workcell', 'entries', 'last entry']} rows={data.workcells.map((w) => [w.workcell, String(w.entries), time(w.lastEntryAt)])} />}
      </Section>
      <Section title="Open holds" count={data.holds.length}>
        {data.holds.length === 0 ? <Empty>No batch on the site is held.</Empty> : <Table head={['workcell', 'batch', 'step', 'kind', 'message', 'since']} rows={data.holds.map((h) => [h.workcell, h.batchId, h.step, h.kind, h.message, time(h.since)])} />}
      </Section>
      <Section title="Batches" count={data.batches.length}>
        {data.batches.length === 0 ? <Empty>No batch mirrored.</Empty> : <Table head={['workcell', 'batch', 'patient', 'status', 'step']} rows={data.batches.map((b) => [b.workcell, b.batchId, b.patient ?? '-', b.status, b.step ?? '-'])} />}
      </Section>
    </div>
  );
}
