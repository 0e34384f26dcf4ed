/** The audit trail: operator actions, signatures and refusals, newest first, a page at a time. */
import { useState } from 'preact/hooks';
import type { AuditPage } from '../api-types.ts';
import { useApi } from '../live.ts';
import { Empty, Problem, time } from '../ui.tsx';
import { Table } from './record.tsx';

export function AuditView() {
  const [before, setBefore] = useState<number[]>([]);
  const cursor = before.at(-1);
  const { data, error } = useApi<AuditPage>(cursor === undefined ? '/api/audit' : `/api/audit?before=${cursor}`, { live: cursor === undefined });
  if (!data) return error ? <Problem error={error} /> : <p class="loading">Loading…</p>;
  return (
    <div class="view audit-view">
      <h1>Audit trail</h1>
      <Problem error={error} />
      {data.items.length === 0 ? <Empty>Nothing in the audit trail.</Empty> : <Table head={['at', 'who', 'what', 'stream', 'details']} rows={data.items.map((i) => [time(i.at), i.user ?? '-', i.type, i.stream, i.summary])} wide={4} />}
      <div class="row pager">
        <button type="button" disabled={before.length === 0} onClick={() => setBefore(before.slice(0, -1))}>
          Newer
        </button>
        <button type="button" disabled={data.next === null} onClick={() => data.next !== null && setBefore([...before, data.next])}>
          Older
        </button>
      </div>
    </div>
  );
}
