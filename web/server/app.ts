/**
 * The HMI's HTTP server (`workcell serve`): fastify over HTTPS serving the API of routes-*.ts and the
 * app's built files. Every request but the login page's is checked before it is read: a live session
 * (cookie), its CSRF token on a mutating request, and a role the route needs; a refusal says why.
 */
import { timingSafeEqual } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import cookie from '@fastify/cookie';
import helmet from '@fastify/helmet';
import fastifyStatic from '@fastify/static';
import rateLimit from '@fastify/rate-limit';
import { CHUNKS } from '../app/build.ts';
import { EventLog } from '../../orchestrator/event-log.ts';
import { SignatureRefused } from '../../orchestrator/signatures.ts';
import { ApiError, BACKGROUND_HEADER, refusedAccess, signedInBy, type Access, type ApiRoute, type ServerContext } from './api.ts';
import { serverDirectory } from './certificate.ts';
import { LiveUpdates } from './live.ts';
import { openApiDocument } from './openapi.ts';
import { batchRoutes } from './routes-batches.ts';
import { LOGIN_LIMIT, sessionRoutes } from './routes-session.ts';
import { workcellRoutes } from './routes-workcell.ts';
import { ErrorBody } from './schemas.ts';
import { SessionStore, type SessionLimits } from './sessions.ts';
import { StatusCache } from './status.ts';

export interface HmiServerOptions {
  /** The workcell's database (it must exist). */
  database: string;
  host: string;
  port: number;
  /** HTTPS key and certificate; absent only for plain HTTP on loopback (--insecure). */
  tls?: { certificatePem: string; privateKeyPem: string };
  /** The directory of the app's built files (web/app/build.ts). */
  assets: string;
  postgres?: string;
  /** The directory of the schedules batches may be started on over the API (web/server/schedules.ts). */
  schedules?: string;
  sessionLimits?: SessionLimits;
  /** Login attempts allowed per client address and window (10 a minute unless given). */
  loginLimit?: { attempts: number; windowMs: number };
  /** How often the log watcher looks for other processes' writes (ms). */
  watchEveryMs?: number;
  version?: string;
}

export interface HmiServer {
  app: FastifyInstance;
  url: string;
  /** The log the server reads and signs into. */
  log: EventLog;
  close(): Promise<void>;
}

export const API_ROUTES: readonly ApiRoute[] = [...sessionRoutes, ...workcellRoutes, ...batchRoutes];

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** The app's files: who may read each (web/app/README.md); its chunks are chunksOf's. */
const PAGES: Array<{ url: string; file: string; access: Access; page?: boolean }> = [
  { url: '/', file: 'index.html', access: 'session', page: true },
  { url: '/app.js', file: 'app.js', access: 'session' },
  { url: '/login', file: 'login.html', access: 'public' },
  { url: '/login.js', file: 'login.js', access: 'public' },
  { url: '/app.css', file: 'app.css', access: 'public' },
];

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

function sameToken(given: string | string[] | undefined, expected: string): boolean {
  if (typeof given !== 'string') return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

export async function startHmiServer(options: HmiServerOptions): Promise<HmiServer> {
  if (!options.tls && !isLoopback(options.host)) throw new Error(`refusing to serve plain HTTP on ${options.host}: without TLS only a loopback address (127.0.0.1, ::1, localhost) may be served, with --insecure`);
  const log = new EventLog(options.database);
  const sessions = new SessionStore(join(serverDirectory(options.database), 'sessions.db'), options.sessionLimits);
  const status = new StatusCache(log);
  const live = new LiveUpdates(log, () => status.overview(), options.watchEveryMs);
  const context: ServerContext = { log, sessions, live, status, postgres: options.postgres, schedules: options.schedules, cookieName: options.tls ? '__Host-workcell-session' : 'workcell-session' };
  const app = Fastify({ ...(options.tls ? { https: { key: options.tls.privateKeyPem, cert: options.tls.certificatePem } } : {}), logger: false, trustProxy: false }) as unknown as FastifyInstance;
  try {
    await configure(app, context, options);
    await app.listen({ host: options.host, port: options.port });
  } catch (error) {
    await app.close().catch(() => undefined);
    sessions.shutdown();
    log.close();
    throw error;
  }
  live.start();
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    app,
    log,
    url: `${options.tls ? 'https' : 'http'}://${host}:${port}`,
    async close() {
      live.close();
      await app.close();
      sessions.shutdown();
      log.close();
    },
  };
}

/**
 * The app's chunks (what views load with import(): the plotting code), a session's like app.js. Each file
 * the build wrote gets its own route, so nothing but those files is ever read from the directory. They are
 * read once, here, and answered from memory in the tick their request is read: the record view asks for its
 * plotting code just before its record, and a file streamed from disk would wait behind the record's building.
 */
function chunksOf(assets: string): Array<{ url: string; body: Buffer }> {
  const dir = join(assets, CHUNKS);
  if (!existsSync(dir)) return [];
  return readdirSync(dir).map((chunk) => ({ url: `/${CHUNKS}/${chunk}`, body: readFileSync(join(dir, chunk)) }));
}

async function configure(app: FastifyInstance, context: ServerContext, options: HmiServerOptions): Promise<void> {
  await app.register(cookie);
  await app.register(helmet, {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:'],
        connectSrc: ["'self'"],
        fontSrc: ["'self'"],
        objectSrc: ["'none'"],
        baseUri: ["'none'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
        ...(options.tls ? { upgradeInsecureRequests: [] } : {}),
      },
    },
    hsts: options.tls ? { maxAge: 31_536_000 } : false,
    referrerPolicy: { policy: 'no-referrer' },
  });
  await app.register(fastifyStatic, { root: options.assets, serve: false });
  // Only the routes that ask for it (the login), by the connection's address: trustProxy is off.
  await app.register(rateLimit, { global: false });
  const { attempts, windowMs } = options.loginLimit ?? LOGIN_LIMIT;
  const perAddress = {
    max: attempts,
    timeWindow: windowMs,
    errorResponseBuilder: (_request: FastifyRequest, limit: { ttl: number }) => {
      const seconds = Math.max(1, Math.ceil(limit.ttl / 1000));
      return new ApiError(429, `too many login attempts from this address (${attempts} within ${windowMs / 1000} s): try again in ${seconds} s`, { 'retry-after': String(seconds) });
    },
  };
  // JSON only: a form another site posts (text/plain, urlencoded) is refused before anything reads it.
  app.removeContentTypeParser('text/plain');

  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    const config = request.routeOptions.config;
    const access: Access = config.access ?? 'session';
    const token = request.cookies[context.cookieName];
    // What the app fetches on its own is no use of the session: an unattended screen times out.
    const countsAsUse = config.countsAsUse !== false && request.headers[BACKGROUND_HEADER] !== '1';
    const signedIn = token ? signedInBy(context, token, { countsAsUse }) : undefined;
    if (signedIn) request.signedIn = signedIn;
    if (access === 'public') return;
    if (!signedIn) {
      if (config.page) return reply.redirect('/login', 303);
      return reply.code(401).send({ error: token ? 'the session ended (logged out, idle too long, the password changed or the operator was disabled): log in again' : 'log in first (POST /api/session)' });
    }
    if (MUTATING.has(request.method) && !sameToken(request.headers['x-csrf-token'], signedIn.session.csrfToken)) {
      return reply.code(403).send({ error: "refused: a mutating request carries the session's CSRF token in the x-csrf-token header (GET /api/session gives it)" });
    }
    const refused = refusedAccess(access, signedIn.operator);
    if (refused) return reply.code(403).send({ error: `refused: ${refused}` });
  });
  // Nothing the API answers is kept by a browser or proxy: records and status are read fresh.
  app.addHook('onSend', async (request, reply) => {
    if (request.url.startsWith('/api/')) reply.header('cache-control', 'no-store');
  });

  app.setErrorHandler((error: Error & { validation?: unknown; statusCode?: number }, request, reply) => {
    if (error instanceof ApiError) return reply.code(error.status).headers(error.headers).send({ error: error.message });
    if (error instanceof SignatureRefused) return reply.code(403).send({ error: error.message });
    if (error.validation) return reply.code(400).send({ error: `the request's ${error.message}` });
    if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500) return reply.code(error.statusCode).send({ error: error.message });
    process.stderr.write(`workcell serve: ${request.method} ${request.url} failed: ${error.stack ?? error.message}\n`);
    return reply.code(500).send({ error: 'the server failed to answer this request; its standard error says why' });
  });
  app.setNotFoundHandler((request, reply) => reply.code(404).send({ error: `nothing at ${request.method} ${request.url.split('?')[0]}` }));

  for (const definition of API_ROUTES) {
    app.route({
      method: definition.method,
      url: definition.path.replace(/\{(\w+)\}/g, ':$1'),
      config: { access: definition.access, countsAsUse: definition.countsAsUse, ...(definition.limitedPerAddress ? { rateLimit: perAddress } : {}) },
      schema: {
        ...(definition.body ? { body: definition.body } : {}),
        ...(definition.params ? { params: definition.params } : {}),
        ...(definition.query ? { querystring: definition.query } : {}),
        ...(definition.response ? { response: { [definition.status ?? 200]: definition.response, '4xx': ErrorBody, '5xx': ErrorBody } } : {}),
      },
      handler: (request, reply) => {
        if (definition.status) reply.code(definition.status);
        return definition.handle({ body: request.body, params: request.params, query: request.query, signedIn: request.signedIn!, request, reply, context }) as Promise<unknown>;
      },
    });
  }
  const document = openApiDocument(API_ROUTES, { version: options.version ?? '0.1.0' });
  app.get('/api/openapi.json', { config: { access: 'session' } }, async () => document);

  for (const page of PAGES) {
    app.get(page.url, { config: { access: page.access, page: page.page } }, (_request, reply) => {
      if (page.file.endsWith('.html')) reply.header('cache-control', 'no-store');
      return reply.sendFile(page.file);
    });
  }
  for (const chunk of chunksOf(options.assets)) {
    // Named by its content's hash: the browser keeps it (for this user only) and asks no more.
    app.get(chunk.url, { config: { access: 'session' } }, (_request, reply) => reply.type('text/javascript; charset=utf-8').header('cache-control', 'private, max-age=31536000, immutable').send(chunk.body));
  }
}
