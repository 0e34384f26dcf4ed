/** The audit trail: operator actions, signatures and refusals, in log order, a page at a time. */
import { useState } from 'preact/hooks';
import type { AuditPage } from '../api-types.ts';
import { useApi } from '../live.ts';
import { Empty, Pending, Problem, time } from '../ui.tsx';
import { Table } from './record.tsx';

export function AuditView() {
  // The cursors of the pages read so far: back is one cursor off the stack.
  const [cursors, setCursors] = useState<number[]>([]);
  const cursor = cursors.at(-1);
  const { data, error } = useApi<AuditPage>(cursor === undefined ? '/api/audit' : `/api/audit?after=${cursor}`, { live: true });
  if (!data) return <Pending view="audit-view" title="Audit trail" error={error} />;
  return (
    <div class="view audit-view">
      <h1>Audit trail</h1>
      <Problem error={error} />
      {data.items.length === 0 ? <Empty>Nothing in the audit trail.</Empty> : <Table head={['at', 'who', 'what', 'stream', 'details']} rows={data.items.map((i) => [time(i.at), i.user ?? '-', i.type, i.stream, i.summary])} wide={4} />}
      <div class="row pager">
        <button type="button" disabled={cursors.length === 0} onClick={() => setCursors(cursors.slice(0, -1))}>
          Previous page
        </button>
        <button type="button" disabled={data.next === null} onClick={() => data.next !== null && setCursors([...cursors, data.next])}>
          Next page
        </button>
      </div>
    </div>
  );
}
