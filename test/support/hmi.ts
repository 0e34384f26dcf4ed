/**
 * The HMI server for tests: real HTTPS on a port the OS picks, its self-signed certificate trusted by the
 * test client (and nothing else), and a client that keeps the session cookie as a browser does.
 */
import { mkdtempSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventLog } from '../../orchestrator/event-log.ts';
import type { Credentials } from '../../orchestrator/signatures.ts';
import { appAssets } from './browser.ts';
import { serverCertificate } from '../../web/server/certificate.ts';
import { startHmiServer, type HmiServer, type HmiServerOptions } from '../../web/server/app.ts';
import { enrolTestOperators } from './operators.ts';

export { appAssets };

export interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: any;
}

/** A database with the test operators (admin, operator, QA) enrolled. */
export function databaseWithOperators(): string {
  const file = join(mkdtempSync(join(tmpdir(), 'workcell-hmi-')), 'records.db');
  const log = new EventLog(file);
  enrolTestOperators(log);
  log.close();
  return file;
}

export interface TestServer {
  server: HmiServer;
  url: string;
  ca: string;
  /** `from`: the loopback address the client connects from (127.0.0.2 is another client address to the server). */
  client(options?: { from?: string }): HmiClient;
  close(): Promise<void>;
}

export async function startTestServer(database: string, options: Partial<HmiServerOptions> = {}): Promise<TestServer> {
  const certificate = await serverCertificate({ database, host: '127.0.0.1' });
  const server = await startHmiServer({ database, host: '127.0.0.1', port: 0, tls: certificate, assets: await appAssets(), watchEveryMs: 50, ...options });
  return { server, url: server.url, ca: certificate.certificatePem, client: (options = {}) => new HmiClient(server.url, certificate.certificatePem, options.from), close: () => server.close() };
}

/** A client as a browser is to the server: one cookie jar, the CSRF token of its session sent when asked. */
export class HmiClient {
  cookie: string | undefined;
  csrfToken: string | undefined;

  constructor(readonly base: string, readonly ca: string, readonly localAddress?: string) {}

  /** `raw`: a body sent as it is (its content-type in `headers`), else `body` as JSON. */
  send(method: string, path: string, options: { body?: unknown; raw?: string; csrf?: boolean; headers?: Record<string, string> } = {}): Promise<HttpAnswer> {
    const body = options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
    const headers: Record<string, string> = { accept: 'application/json', ...(body !== undefined && options.raw === undefined ? { 'content-type': 'application/json' } : {}), ...options.headers };
    // Node frames no body of a DELETE by itself: the length is given for every method alike.
    if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
    if (this.cookie) headers.cookie = this.cookie;
    if ((options.csrf ?? method !== 'GET') && this.csrfToken) headers['x-csrf-token'] = this.csrfToken;
    return new Promise((resolve, reject) => {
      const req = request(new URL(path, this.base), { method, headers, ca: this.ca, localAddress: this.localAddress }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => {
          const setCookie = res.headers['set-cookie']?.[0];
          if (setCookie) this.cookie = setCookie.split(';')[0]!.endsWith('=') ? undefined : setCookie.split(';')[0];
          let json: unknown;
          try {
            json = text ? JSON.parse(text) : undefined;
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  get = (path: string) => this.send('GET', path);
  post = (path: string, body: unknown, options: { csrf?: boolean } = {}) => this.send('POST', path, { body, ...options });

  async logIn(credentials: Credentials): Promise<HttpAnswer> {
    const answer = await this.post('/api/session', credentials);
    if (answer.status === 200) this.csrfToken = answer.json.csrfToken;
    return answer;
  }

  /** Opens /api/events and collects its events until `until` says enough, the server ends the stream, or the timeout. */
  events(path: string, until: (events: Array<{ event: string; id?: string; data: any }>) => boolean, headers: Record<string, string> = {}, timeoutMs = 30_000): Promise<Array<{ event: string; id?: string; data: any }>> {
    return new Promise((resolve, reject) => {
      const events: Array<{ event: string; id?: string; data: any }> = [];
      const req = request(new URL(path, this.base), { method: 'GET', headers: { accept: 'text/event-stream', ...(this.cookie ? { cookie: this.cookie } : {}), ...headers }, ca: this.ca, localAddress: this.localAddress }, (res) => {
        if (res.statusCode !== 200) {
          reject(new Error(`/api/events answered ${res.statusCode}`));
          res.resume();
          return;
        }
        let buffer = '';
        res.setEncoding('utf8');
        res.on('end', () => {
          clearTimeout(timer);
          resolve(events);
        });
        res.on('data', (chunk: string) => {
          buffer += chunk;
          let end: number;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const fields = Object.fromEntries(block.split('\n').map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 2)]));
            events.push({ event: fields.event ?? 'message', id: fields.id, data: JSON.parse(fields.data ?? 'null') });
          }
          if (until(events)) {
            clearTimeout(timer);
            req.destroy();
            resolve(events);
          }
        });
      });
      const timer = setTimeout(() => {
        req.destroy();
        reject(new Error(`the events seen were not enough after ${timeoutMs} ms: ${events.map((e) => e.event).join(', ')}`));
      }, timeoutMs);
      req.on('error', (error) => {
        if (!req.destroyed) reject(error);
      });
      req.end();
    });
  }
}
