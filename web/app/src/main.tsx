/** The HMI: the session, the navigation, and the view the fragment of the address names. */
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, useCsrfToken } from './api.ts';
import type { SessionInfo } from './api-types.ts';
import { connectLive, useConnected, useStatus } from './live.ts';
import { Problem } from './ui.tsx';
import { AuditView } from './views/audit.tsx';
import { BatchesView } from './views/batches.tsx';
import { HoldsView } from './views/holds.tsx';
import { OperatorsView } from './views/operators.tsx';
import { RecordView } from './views/record.tsx';
import { SiteView } from './views/site.tsx';
import { TimelineView } from './views/timeline.tsx';
import { WorkcellView } from './views/workcell.tsx';

const NAV = [
  { path: '', label: 'Workcell' },
  { path: 'holds', label: 'Holds' },
  { path: 'batches', label: 'Batches' },
  { path: 'timeline', label: 'Timeline' },
  { path: 'site', label: 'Site' },
  { path: 'audit', label: 'Audit trail' },
  { path: 'operators', label: 'Operators' },
];

function route(): string[] {
  return location.hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
}

function App({ session }: { session: SessionInfo }) {
  const [path, setPath] = useState(route());
  useEffect(() => {
    const changed = () => {
      setPath(route());
      // Going to another view is use of the session, even to one that only reads the live stream.
      api.get('/api/session').catch(() => undefined);
    };
    addEventListener('hashchange', changed);
    return () => removeEventListener('hashchange', changed);
  }, []);
  const [view = '', id] = path;
  return (
    <>
      <header class="top no-print">
        <span class="brand">Workcell</span>
        <nav>
          {NAV.map((n) => (
            <a href={`#/${n.path}`} class={view === n.path ? 'current' : ''} aria-current={view === n.path ? 'page' : undefined}>
              {n.label}
              {n.path === 'holds' ? <HoldCount /> : null}
            </a>
          ))}
        </nav>
        <LiveSign />
        <span class="who">
          {session.user} <small>({session.roles.join(', ')})</small>
        </span>
        <button
          type="button"
          class="logout"
          onClick={() => {
            void api.delete('/api/session').finally(() => location.assign('/login'));
          }}
        >
          Sign out
        </button>
      </header>
      <main>{viewOf(view, id, session)}</main>
    </>
  );
}

// The status events' parts of the header are components of their own: an event re-renders them, not the view
// below (a record of thousands of cells), which reads the status itself where it needs it.
function HoldCount() {
  const holds = useStatus().data?.holds.length ?? 0;
  return holds > 0 ? <span class="badge">{holds}</span> : null;
}

function LiveSign() {
  const live = useConnected();
  return (
    <span class={live ? 'live on' : 'live off'} title={live ? 'receiving updates from the log' : 'not receiving updates: reconnecting'}>
      {live ? 'live' : 'offline'}
    </span>
  );
}

function viewOf(view: string, id: string | undefined, session: SessionInfo) {
  switch (view) {
    case '':
      return <WorkcellView />;
    case 'holds':
      return <HoldsView session={session} />;
    case 'batches':
      return id ? <RecordView key={id} batchId={id} session={session} /> : <BatchesView session={session} />;
    case 'timeline':
      return <TimelineView />;
    case 'site':
      return <SiteView />;
    case 'audit':
      return <AuditView />;
    case 'operators':
      return <OperatorsView session={session} />;
    default:
      return <p class="problem">There is no view '{view}'.</p>;
  }
}

async function start(): Promise<void> {
  const root = document.getElementById('app')!;
  try {
    const session = await api.get<SessionInfo>('/api/session');
    useCsrfToken(session.csrfToken);
    connectLive();
    root.replaceChildren();
    render(<App session={session} />, root);
  } catch (error) {
    root.replaceChildren();
    render(<Problem error={error} />, root);
  }
}

void start();
