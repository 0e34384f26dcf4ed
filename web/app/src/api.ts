/**
 * The app's one way to the server: JSON over the API of the contract, the session's CSRF token on every
 * mutating request, the server's sentence shown when it refuses. A 401 means the session is gone: back to
 * the login page. What the app asks on its own, not for a person's action, says so (`background`): the
 * server then does not count it as use of the session, so that an unattended screen still times out.
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

let csrfToken = '';

export function useCsrfToken(token: string): void {
  csrfToken = token;
}

async function request<T>(method: string, path: string, body?: unknown, options: { background?: boolean } = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (options.background) headers['x-workcell-background'] = '1';
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET') headers['x-csrf-token'] = csrfToken;
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin' });
  const text = await response.text();
  const parsed: unknown = text ? safeJson(text) : undefined;
  if (!response.ok) {
    const said = parsed && typeof parsed === 'object' && 'error' in parsed && typeof parsed.error === 'string' ? parsed.error : `${response.status} ${response.statusText}`;
    // But for a login's own refusal (a wrong password), a 401 is a session gone, whatever asked.
    if (response.status === 401 && !(method === 'POST' && path === '/api/session')) location.assign('/login');
    throw new ApiError(response.status, said);
  }
  return parsed as T;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return { error: text.slice(0, 300) };
  }
}

export const api = {
  get: <T>(path: string, options: { background?: boolean } = {}) => request<T>('GET', path, undefined, options),
  post: <T>(path: string, body: unknown) => request<T>('POST', path, body),
  delete: <T>(path: string) => request<T>('DELETE', path),
};

/** A path segment from data (a batch or user id), so that no id can change which route is asked. */
export const segment = (value: string) => encodeURIComponent(value);
