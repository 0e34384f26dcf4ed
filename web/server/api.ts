/**
 * How the API's routes are declared: each once, with who may call it, its TypeBox schemas and its
 * handler. app.ts registers them with fastify (which validates by the schemas), openapi.ts describes
 * them; the access rule of a route is checked before anything of the request is read.
 */
import type { Static, TSchema } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { EventLog } from '../../orchestrator/event-log.ts';
import { SignatureRefused, standingOf, type Operator, type Role } from '../../orchestrator/signatures.ts';
import type { SessionStore, Session } from './sessions.ts';
import type { LiveUpdates } from './live.ts';
import type { StatusCache } from './status.ts';

/** `public`: anyone; `session`: anyone signed in; a list of roles: someone signed in with one of them. */
export type Access = 'public' | 'session' | readonly Role[];

export interface SignedIn {
  token: string;
  session: Session;
  operator: Operator;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: Access;
    /** A page, not an API route: without a session it redirects to the login page rather than answer 401. */
    page?: boolean;
    /** False for what the app opens on its own (the event stream): the session is checked, its idle time not restarted. */
    countsAsUse?: boolean;
  }
  interface FastifyRequest {
    signedIn?: SignedIn;
  }
}

export interface ServerContext {
  log: EventLog;
  sessions: SessionStore;
  live: LiveUpdates;
  status: StatusCache;
  /** The PostgreSQL site copy (--postgres), when given. */
  postgres?: string;
  /** The directory of the schedules batches may be started on (--schedules); else found beside the layout (schedules.ts). */
  schedules?: string;
  /** The cookie's name: `__Host-` prefixed over HTTPS. */
  cookieName: string;
}

export interface HandlerInput<B extends TSchema, P extends TSchema, Q extends TSchema> {
  body: Static<B>;
  params: Static<P>;
  query: Static<Q>;
  /** The signed-in operator (always set but on public routes). */
  signedIn: SignedIn;
  request: FastifyRequest;
  reply: FastifyReply;
  context: ServerContext;
}

export interface ApiRoute<B extends TSchema = TSchema, P extends TSchema = TSchema, Q extends TSchema = TSchema> {
  method: 'GET' | 'POST' | 'DELETE';
  /** OpenAPI form: /api/batches/{id}/record. */
  path: string;
  summary: string;
  description?: string;
  access: Access;
  /** False for a route the app calls on its own, never for a person's action: it does not restart the idle time. */
  countsAsUse?: false;
  /** Requests per client address are limited (HmiServerOptions.loginLimit): a route anyone may call that costs the server. */
  limitedPerAddress?: true;
  body?: B;
  params?: P;
  query?: Q;
  /** The answer; `undefined` for a stream (text/event-stream). */
  response: TSchema | undefined;
  /** Its status: 200 unless given (202: accepted, to be done by the orchestrator). */
  status?: 200 | 202;
  handle(input: HandlerInput<B, P, Q>): unknown;
}

/** Keeps each route's types: the handler sees its own schemas' static types. */
export function route<B extends TSchema = TSchema, P extends TSchema = TSchema, Q extends TSchema = TSchema>(definition: ApiRoute<B, P, Q>): ApiRoute {
  return definition as unknown as ApiRoute;
}

/** A refusal with its HTTP status and the sentence saying why. */
export class ApiError extends Error {
  constructor(readonly status: number, message: string, readonly headers: Record<string, string> = {}) {
    super(message);
  }
}

/**
 * The request header by which the app marks what it asks on its own (a refetch on a live event, a check
 * whether the session still stands): such a request does not restart the session's idle time.
 */
export const BACKGROUND_HEADER = 'x-workcell-background';

/**
 * The signed-in operator of a session token; undefined when the session ended. `countsAsUse: false`
 * checks the session without restarting its idle time. Roles, the authority to sign and the password
 * are read from the log each time: a disablement or a password change, made by whichever process (the
 * CLI, another server), ends every session opened before it at its next request.
 */
export function signedInBy(context: ServerContext, token: string, { countsAsUse }: { countsAsUse: boolean }): SignedIn | undefined {
  const session = countsAsUse ? context.sessions.use(token) : context.sessions.check(token);
  if (!session) return undefined;
  const standing = standingOf(context.log, session.user);
  if (!standing || standing.operator.disabled || standing.credentialsChangedAt > session.logPosition) {
    context.sessions.close(token);
    return undefined;
  }
  return { token, session, operator: standing.operator };
}

/**
 * Runs one of the orchestrator's operations (the CLI's own): what it refuses (no open hold, a batch not
 * finished, a password that breaks the rule) is the caller's to fix, answered 409 with its sentence; a
 * refused signature stays what it is (403).
 */
export function operation<T>(run: () => T): T {
  try {
    return run();
  } catch (error) {
    if (error instanceof SignatureRefused || error instanceof ApiError || !(error instanceof Error)) throw error;
    throw new ApiError(409, error.message);
  }
}

/** Whether `roles` may call a route of `access`; the sentence saying why not when not. */
export function refusedAccess(access: Access, operator: Operator): string | undefined {
  if (access === 'public' || access === 'session') return undefined;
  if (operator.roles.some((role) => access.includes(role))) return undefined;
  return `${operator.user} (${operator.roles.join(', ')}) may not do this: it needs the role ${access.join(' or ')}`;
}
