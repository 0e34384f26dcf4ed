/** Logging in and out, the current session, and the operators (enrol, disable, own password). */
import { Type } from '@sinclair/typebox';
import { wallNow } from '../../drivers/clock.ts';
import { changePassword, disableOperator, enrolOperator, listOperators, LOCKOUT, logIn, SignatureRefused, type Operator } from '../../orchestrator/signatures.ts';
import { ApiError, operation, route, type ApiRoute, type SignedIn } from './api.ts';
import { DisableBody, Done, EnrolBody, LoginBody, OperatorView, PasswordBody, SessionInfo } from './schemas.ts';

/** Login attempts per client address and window, unless the server is started with others. */
export const LOGIN_LIMIT = { attempts: 10, windowMs: 60_000 };

const sessionInfo = (operator: Operator, csrfToken: string) => ({ user: operator.user, printedName: operator.printedName, roles: operator.roles, csrfToken });
const me = (signedIn: SignedIn) => signedIn.operator.user;

export const sessionRoutes: ApiRoute[] = [
  route({
    method: 'POST',
    path: '/api/session',
    summary: 'Log in: the session cookie and its CSRF token',
    description: `The same user id and password as a signature, with the same lockout: wrong passwords here count with those of the CLI (${LOCKOUT.attempts} within ${LOCKOUT.windowMs / 60_000} min lock the user id). A refusal is recorded in the operators stream, a locked user id's once per lock. 401: unknown user or wrong password; 429 with Retry-After: the user id is locked (the answer says until when), or this client address made too many login attempts (${LOGIN_LIMIT.attempts} a minute unless the server was started otherwise; refused before any password is compared).`,
    access: 'public',
    limitedPerAddress: true,
    body: LoginBody,
    response: SessionInfo,
    async handle({ body, reply, context }) {
      // Read before the password is checked: a password change that lands while it is ends this session.
      const logPosition = context.log.lastSeq();
      let operator: Operator;
      try {
        operator = await logIn(context.log, body, context.status.now());
      } catch (error) {
        if (error instanceof SignatureRefused && error.lockedUntil) {
          throw new ApiError(429, error.message, { 'retry-after': String(Math.max(1, Math.ceil((error.lockedUntil.getTime() - wallNow()) / 1000))) });
        }
        if (error instanceof SignatureRefused) throw new ApiError(401, error.message);
        throw error;
      }
      const { token, session } = context.sessions.open(operator.user, logPosition);
      reply.setCookie(context.cookieName, token, { httpOnly: true, secure: true, sameSite: 'strict', path: '/' });
      return sessionInfo(operator, session.csrfToken);
    },
  }),
  route({
    method: 'DELETE',
    path: '/api/session',
    summary: 'Log out',
    access: 'session',
    response: Done,
    handle({ signedIn, reply, context }) {
      context.sessions.close(signedIn.token);
      reply.clearCookie(context.cookieName, { httpOnly: true, secure: true, sameSite: 'strict', path: '/' });
      return { done: true, message: `${signedIn.operator.user} logged out` };
    },
  }),
  route({
    method: 'GET',
    path: '/api/session',
    summary: 'The current session: user, roles, CSRF token',
    access: 'session',
    response: SessionInfo,
    handle: ({ signedIn }) => sessionInfo(signedIn.operator, signedIn.session.csrfToken),
  }),
  route({
    method: 'GET',
    path: '/api/operators',
    summary: 'The enrolled operators (admin)',
    access: ['admin'],
    response: Type.Array(OperatorView),
    handle: ({ context }) => listOperators(context.log),
  }),
  route({
    method: 'POST',
    path: '/api/operators',
    summary: 'Enrol an operator, signed by the admin (password re-entered)',
    access: ['admin'],
    body: EnrolBody,
    response: OperatorView,
    handle({ body, signedIn, context }) {
      const { log } = context;
      operation(() => enrolOperator(log, { user: body.user, printedName: body.printedName, roles: body.roles, password: body.initialPassword }, { user: me(signedIn), password: body.password }, context.status.now()));
      return listOperators(log).find((o) => o.user === body.user)!;
    },
  }),
  route({
    method: 'POST',
    path: '/api/operators/{id}/disable',
    summary: "Withdraw an operator's authority to sign, signed by the admin; their sessions end",
    access: ['admin'],
    params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 200 }) }),
    body: DisableBody,
    response: OperatorView,
    handle({ body, params, signedIn, context }) {
      const { log } = context;
      operation(() => disableOperator(log, params.id, body.reason, { user: me(signedIn), password: body.password }, context.status.now()));
      context.sessions.closeAllOf(params.id);
      return listOperators(log).find((o) => o.user === params.id)!;
    },
  }),
  route({
    method: 'POST',
    path: '/api/operators/me/password',
    summary: 'Change your own password, signed with the current one; your other sessions end',
    description: 'The session this comes from stays open; every other session of the user ends, on this server at once and on any other at its next request (as after `workcell operators passwd`).',
    access: 'session',
    body: PasswordBody,
    response: Done,
    handle({ body, signedIn, context }) {
      const { log } = context;
      const changed = operation(() => changePassword(log, { user: me(signedIn), password: body.current }, body.next, context.status.now()));
      context.sessions.closeAllOf(me(signedIn), signedIn.token);
      context.sessions.keepPast(signedIn.token, changed.seq);
      return { done: true, message: `the password of ${me(signedIn)} changed` };
    },
  }),
];
