/**
 * Live updates: one EventSource on /api/events for the whole page. Each `status` event (the server sends
 * one within a second of the log changing) tells every view that reads live data to fetch it again; a
 * view never reloads the page and never polls.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from './api.ts';

type Listener = () => void;
const listeners = new Set<Listener>();
let source: EventSource | undefined;
let connected = false;
const connectionListeners = new Set<(connected: boolean) => void>();

export function connectLive(): void {
  if (source) return;
  source = new EventSource('/api/events');
  source.addEventListener('status', () => {
    for (const listener of listeners) listener();
  });
  source.addEventListener('open', () => setConnected(true));
  // EventSource reconnects by itself; the page says it is not live meanwhile.
  source.addEventListener('error', () => setConnected(false));
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

export interface Loaded<T> {
  data: T | undefined;
  error: unknown;
  reload: () => void;
}

/**
 * The API's answer at `path`, fetched again on each status event while `live` says so. One request at a
 * time: events that come while one is in flight make one more request after it, not one each.
 */
export function useApi<T>(path: string | null, options: { live?: boolean | ((data: T | undefined) => boolean) } = {}): Loaded<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<unknown>(null);
  const state = useRef({ inFlight: false, again: false, path, data: undefined as T | undefined });
  state.current.path = path;
  const load = () => {
    const s = state.current;
    if (!s.path) return;
    if (s.inFlight) {
      s.again = true;
      return;
    }
    s.inFlight = true;
    const asked = s.path;
    api
      .get<T>(asked)
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
        if (s.again) {
          s.again = false;
          load();
        }
      });
  };
  useEffect(() => {
    setData(undefined);
    setError(null);
    load();
  }, [path]);
  useEffect(() => {
    const live = options.live;
    if (!live) return;
    const listener = () => {
      if (typeof live === 'function' && !live(state.current.data)) return;
      load();
    };
    listeners.add(listener);
    return () => void listeners.delete(listener);
  }, [path, options.live]);
  return { data, error, reload: load };
}
