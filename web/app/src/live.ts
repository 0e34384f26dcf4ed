/**
 * Live updates: one EventSource on /api/events for the whole page. Each `status` event (the server sends
 * one on connecting and within a second of the log changing) carries the workcell's status, which views
 * read as it comes (useStatus), and tells views that read other live data to fetch it again (useApi);
 * nothing reloads the page and nothing polls. What is fetched because of an event is fetched in the
 * background (no use of the session); what a person's navigation or action asks for is not.
 */
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { api } from './api.ts';
import type { Status } from './api-types.ts';

type Listener = () => void;
const changed = new Set<Listener>();
const statusListeners = new Set<(status: Status) => void>();
const connectionListeners = new Set<(connected: boolean) => void>();
let source: EventSource | undefined;
let connected = false;
let latestStatus: Status | undefined;

/** At most one refetch a second per view: a running workcell changes the log many times a second. */
const MIN_REFETCH_MS = 1000;

/** How long to wait before opening the stream again once the server closed it for good. */
const RECONNECT_MS = 3000;

export function connectLive(): void {
  if (source) return;
  const stream = new EventSource('/api/events');
  source = stream;
  stream.addEventListener('status', (event: MessageEvent<string>) => {
    const status = parseStatus(event.data);
    if (status) publishStatus(status);
    for (const listener of changed) listener();
  });
  stream.addEventListener('open', () => setConnected(true));
  // EventSource reconnects by itself after a dropped connection; the page says it is not live meanwhile.
  // A refusal (the session ended) closes it for good: asking for the session at once then goes to the
  // login page on a 401, and otherwise the stream is opened again after a pause.
  stream.addEventListener('error', () => {
    setConnected(false);
    if (stream.readyState !== EventSource.CLOSED) return;
    source = undefined;
    const again = () => setTimeout(connectLive, RECONNECT_MS);
    api.get('/api/session', { background: true }).then(again, again);
  });
}

function parseStatus(data: string): Status | undefined {
  try {
    // The event's data is what GET /api/status answers, written by the same server.
    return JSON.parse(data) as Status;
  } catch {
    return undefined;
  }
}

function publishStatus(status: Status): void {
  latestStatus = status;
  for (const listener of statusListeners) listener(status);
}

function setConnected(value: boolean): void {
  connected = value;
  for (const listener of connectionListeners) listener(value);
}

export function useConnected(): boolean {
  const [value, setValue] = useState(connected);
  useEffect(() => {
    connectionListeners.add(setValue);
    return () => void connectionListeners.delete(setValue);
  }, []);
  return value;
}

/** How long to wait for the first status event (sent on connecting) before asking GET /api/status for it. */
const FIRST_EVENT_MS = 1500;

/** The workcell's status as the latest event brought it (fetched once if the first event is late). */
export function useStatus(): { data: Status | undefined; error: unknown } {
  const [status, setStatus] = useState(latestStatus);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    statusListeners.add(setStatus);
    const late = latestStatus
      ? undefined
      : setTimeout(() => {
          if (latestStatus) return;
          api.get<Status>('/api/status', { background: true }).then(
            (answer) => {
              if (!latestStatus) publishStatus(answer);
            },
            (failure: unknown) => setError(failure),
          );
        }, FIRST_EVENT_MS);
    return () => {
      clearTimeout(late);
      statusListeners.delete(setStatus);
    };
  }, []);
  return { data: status, error: status ? null : error };
}

export interface Loaded<T> {
  data: T | undefined;
  error: unknown;
  reload: () => void;
}

/**
 * The API's answer at `path`, fetched again on status events while `live` says so (given the data so
 * far). One request at a time and at most one a second: events that come meanwhile make one more
 * request after it, not one each. A refetch on an event is a background request; the first fetch of a
 * path (navigation) and `reload` (after a person's action) are not.
 */
export function useApi<T>(path: string | null, options: { live?: boolean | ((data: T | undefined) => boolean) } = {}): Loaded<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<unknown>(null);
  // `pending`: a fetch asked for and not yet sent; in the background unless a person's action asked for it too.
  const state = useRef({ inFlight: false, pending: undefined as { background: boolean } | undefined, startedAt: 0, path, data: undefined as T | undefined, timer: undefined as ReturnType<typeof setTimeout> | undefined });
  state.current.path = path;
  const ask = (background: boolean): void => {
    const s = state.current;
    s.pending = { background: background && (s.pending?.background ?? true) };
    send();
  };
  const send = (): void => {
    const s = state.current;
    if (!s.path || !s.pending || s.inFlight || s.timer) return;
    const wait = s.startedAt + MIN_REFETCH_MS - Date.now();
    if (s.data !== undefined && wait > 0) {
      s.timer = setTimeout(() => {
        s.timer = undefined;
        send();
      }, wait);
      return;
    }
    const { background } = s.pending;
    s.pending = undefined;
    s.inFlight = true;
    s.startedAt = Date.now();
    const asked = s.path;
    api
      .get<T>(asked, { background })
      .then((answer) => {
        if (state.current.path !== asked) return;
        s.data = answer;
        setData(answer);
        setError(null);
      })
      .catch((failure: unknown) => {
        if (state.current.path === asked) setError(failure);
      })
      .finally(() => {
        s.inFlight = false;
        send();
      });
  };
  // Asked for as the view mounts, not a frame later as useEffect would: the answer is what the view waits for.
  useLayoutEffect(() => {
    const s = state.current;
    s.data = undefined;
    s.pending = undefined;
    setData(undefined);
    setError(null);
    ask(false);
    return () => {
      clearTimeout(s.timer);
      s.timer = undefined;
    };
  }, [path]);
  useEffect(() => {
    const live = options.live;
    if (!live) return;
    const listener = () => {
      if (typeof live === 'function' && !live(state.current.data)) return;
      ask(true);
    };
    changed.add(listener);
    return () => void changed.delete(listener);
  }, [path, options.live]);
  return { data, error, reload: () => ask(false) };
}
