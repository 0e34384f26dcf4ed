/** Every batch in the log, each a link to its record; an operator starts one here. */
import type { BatchSummary, SessionInfo } from '../api-types.ts';
import { useApi } from '../live.ts';
import { Empty, hasRole, Pending, Problem, time } from '../ui.tsx';
import { Table } from './record.tsx';
import { StartBatchPanel } from './start-batch.tsx';

export function BatchesView({ session }: { session: SessionInfo }) {
  const { data, error } = useApi<BatchSummary[]>('/api/batches', { live: true });
  if (!data) return <Pending view="batches-view" title="Batches" error={error} />;
  return (
    <div class="view batches-view">
      <h1>Batches</h1>
      {/* Starting a batch is an operator's signature (the API refuses anyone else): others are not offered it. */}
      {hasRole(session, ['operator']) ? <StartBatchPanel session={session} /> : null}
      <Problem error={error} />
      {data.length === 0 ? (
        <Empty>No batch in this log yet.</Empty>
      ) : (
        <Table
          head={['batch', 'patient', 'lane', 'status', 'started', 'review']}
          rows={data.map((b) => [<a href={`#/batches/${encodeURIComponent(b.batchId)}`}>{b.batchId}</a>, b.patient, b.lane, b.status, time(b.started), b.review ? `${b.review.decision} by ${b.review.user}` : '-'])}
        />
      )}
    </div>
  );
}
