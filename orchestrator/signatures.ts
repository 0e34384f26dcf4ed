/**
 * Operators and their electronic signatures (21 CFR 11.50, 11.70, 11.200, 11.300; EU Annex 11 §12, §14).
 * Every answer to a hold, every removal by hand and every enrolment is signed with two components (user
 * id and password), checked against the signer's roles, and carries its manifestation: printed name,
 * date and time with its zone, meaning, and the hash of what was signed. Operators live in the log's
 * `operators` stream, so enrolments are hash-chained and audited like every other entry; a password is
 * kept only as a salted scrypt hash. A refused signature is recorded there too, so that attempts at
 * unauthorised use are seen (a locked user id's refusals once per lock, so that nobody floods the stream).
 */
import { createHash, randomBytes, scrypt, scryptSync, timingSafeEqual } from 'node:crypto';
import { canonicalJson, WORKCELL_STREAM, type EventLog, type LogEntry, type NewEntry } from './event-log.ts';
import { isEntry, ROLES, type EntryData } from './entries/index.ts';
import { projectBatch } from './projection.ts';
import { hasControlCharacters, printable } from '../config/printable.ts';
import { wallNow } from '../drivers/clock.ts';

export const OPERATORS_STREAM = 'operators';

export { ROLES };
export type Role = (typeof ROLES)[number];

export type SignedAction = EntryData<'signature.refused'>['action'];

/** Who may sign what: deciding to skip a step or to abort a batch to quarantine is QA's. */
const AUTHORITY: Record<SignedAction, { roles: Role[]; meaning: string }> = {
  retry: { roles: ['operator', 'qa'], meaning: 'approval to retry the step' },
  skip: { roles: ['qa'], meaning: 'approval to skip the step' },
  abort: { roles: ['qa'], meaning: 'approval to abort the batch to quarantine' },
  continue: { roles: ['operator', 'qa'], meaning: "approval of the device's continuation option" },
  hold: { roles: ['operator', 'qa'], meaning: 'responsibility for holding the batch' },
  'out-of-service': { roles: ['operator', 'qa'], meaning: 'responsibility for taking the module out of service' },
  'in-service': { roles: ['operator', 'qa'], meaning: 'responsibility for returning the module to service' },
  remove: { roles: ['operator', 'qa'], meaning: 'responsibility for taking the material out by hand' },
  approve: { roles: ['qa'], meaning: 'approval of the batch record after review' },
  reject: { roles: ['qa'], meaning: 'rejection of the batch after review of its record' },
  'accept-layout': { roles: ['qa'], meaning: 'approval to resume batches on a changed layout' },
  enrol: { roles: ['admin'], meaning: 'approval of an operator enrolment' },
  disable: { roles: ['admin'], meaning: "approval to withdraw an operator's authority to sign" },
  password: { roles: [...ROLES], meaning: 'responsibility for a change of my own password' },
  login: { roles: [...ROLES], meaning: 'opening a session of the web HMI' },
  start: { roles: ['operator'], meaning: 'responsibility for starting the batch' },
};

/** Who may sign an action and what the signature means: for a menu that says so before anyone signs. */
export function authorityOf(action: SignedAction): { roles: readonly Role[]; meaning: string } {
  return AUTHORITY[action];
}

export const MIN_PASSWORD_LENGTH = 10;

export interface Credentials {
  user: string;
  password: string;
}

/** The manifestation of a signature, stored in the signed entry and printed in the record. */
export interface Signature {
  user: string;
  printedName: string;
  meaning: string;
  /** Wall-clock date and time of signing, ISO 8601 in UTC. */
  signedAt: string;
  /** SHA-256 of the canonical JSON of what was signed: the signature cannot be moved to other content. */
  contentHash: string;
}

export interface Operator {
  user: string;
  printedName: string;
  roles: Role[];
  enrolledBy: string | null;
  enrolledAt: string;
  /** Set once an admin withdrew the authority to sign: who, when, why. */
  disabled?: { by: string; at: string; reason: string };
}

/** A signature that was not given: unknown user, wrong password, or a role without that authority. */
export class SignatureRefused extends Error {
  constructor(
    readonly user: string,
    readonly action: SignedAction,
    readonly kind: 'credentials' | 'locked' | 'disabled' | 'authority' | 'independence',
    reason: string,
    /** When the lock of a `locked` refusal ends. */
    readonly lockedUntil?: Date,
  ) {
    super(reason);
  }
}

/** Wrong passwords for one user id within the window that lock it for the rest of the window (11.300(d)). */
export const LOCKOUT = { attempts: 5, windowMs: 15 * 60_000 };

/** Compared against when the user id is unknown, so that a refusal takes as long either way. */
const UNKNOWN_USER_HASH = `scrypt$${randomBytes(16).toString('base64')}$${randomBytes(32).toString('base64')}`;

interface Enrolment extends Operator {
  passwordHash: string;
  /** The log position of the latest password change or disablement: sessions opened before it end. */
  credentialsChangedAt: number;
}

function enrolments(log: EventLog): Map<string, Enrolment> {
  const all = new Map<string, Enrolment>();
  for (const entry of log.stream(OPERATORS_STREAM)) {
    if (entry.type === 'operator.enrolled') {
      const { signature: _signature, ...enrolment } = entry.data;
      all.set(entry.data.user, { ...enrolment, credentialsChangedAt: 0 });
    }
    const enrolled = entry.type === 'operator.password-changed' || entry.type === 'operator.disabled' ? all.get(entry.data.user) : undefined;
    if (!enrolled) continue;
    enrolled.credentialsChangedAt = entry.seq;
    if (entry.type === 'operator.password-changed') enrolled.passwordHash = entry.data.passwordHash;
    if (entry.type === 'operator.disabled') enrolled.disabled = { by: entry.data.by, at: entry.data.disabledAt, reason: entry.data.reason };
  }
  return all;
}

/** The enrolled operators, without their password hashes. */
export function listOperators(log: EventLog): Operator[] {
  return [...enrolments(log).values()].map(({ passwordHash: _hash, credentialsChangedAt: _changed, ...operator }) => operator);
}

/**
 * An operator as the log says now, and the log position of their latest password change or
 * disablement (0 when none): what a session opened at an earlier position no longer stands for.
 */
export function standingOf(log: EventLog, user: string): { operator: Operator; credentialsChangedAt: number } | undefined {
  const enrolment = enrolments(log).get(user);
  if (!enrolment) return undefined;
  const { passwordHash: _hash, credentialsChangedAt, ...operator } = enrolment;
  return { operator, credentialsChangedAt };
}

export function refusedSignatures(log: EventLog): Array<LogEntry<'signature.refused'>> {
  return log.stream(OPERATORS_STREAM).filter(isEntry('signature.refused'));
}

function recentWrongPasswords(log: EventLog, user: string, now = wallNow()): Array<LogEntry<'signature.refused'>> {
  return refusedSignatures(log).filter((e) => e.data.user === user && e.data.kind === 'credentials' && now - Date.parse(e.data.signedAt) < LOCKOUT.windowMs);
}

/** The rule, said whole whenever a password breaks it. */
const PASSWORD_RULE = `a password has at least ${MIN_PASSWORD_LENGTH} characters other than spaces, and does not begin or end with a space (one easily lost when typed or pasted)`;

function checkPassword(password: string): void {
  if (password.trim().length < MIN_PASSWORD_LENGTH || password.trim() !== password) throw new Error(PASSWORD_RULE);
}

function hashPassword(password: string, salt = randomBytes(16)): string {
  return `scrypt$${salt.toString('base64')}$${scryptSync(password, salt, 32).toString('base64')}`;
}

function storedHash(stored: string): { salt: Buffer; expected: Buffer } | undefined {
  const [scheme, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !hash) return undefined;
  return { salt: Buffer.from(salt, 'base64'), expected: Buffer.from(hash, 'base64') };
}

function passwordMatches(password: string, stored: string): boolean {
  const hash = storedHash(stored);
  return hash !== undefined && timingSafeEqual(scryptSync(password, hash.salt, hash.expected.length), hash.expected);
}

/** As passwordMatches, with scrypt on libuv's thread pool: a server keeps answering meanwhile. */
async function passwordMatchesSoon(password: string, stored: string): Promise<boolean> {
  const hash = storedHash(stored);
  if (!hash) return false;
  const derived = await new Promise<Buffer>((resolve, reject) => scrypt(password, hash.salt, hash.expected.length, (error, key) => (error ? reject(error) : resolve(key))));
  return timingSafeEqual(derived, hash.expected);
}

export function contentHashOf(content: unknown): string {
  return createHash('sha256').update(canonicalJson(content)).digest('hex');
}

/** A refusal is printed and listed: what a person typed (a user id, a reason) is escaped in it. */
function refusal(credentials: Credentials, action: SignedAction, kind: SignatureRefused['kind'], reason: string, lockedUntil?: Date): SignatureRefused {
  return new SignatureRefused(credentials.user, action, kind, `signature refused: ${printable(reason)}`, lockedUntil);
}

/** The refusal of a user id locked now, before any password is compared; undefined when it is not locked. */
function lockRefusal(log: EventLog, credentials: Credentials, action: SignedAction): SignatureRefused | undefined {
  const recentFailures = recentWrongPasswords(log, credentials.user);
  if (recentFailures.length < LOCKOUT.attempts) return undefined;
  const until = new Date(Date.parse(recentFailures[recentFailures.length - LOCKOUT.attempts]!.data.signedAt) + LOCKOUT.windowMs);
  return refusal(credentials, action, 'locked', `${credentials.user} is locked after ${LOCKOUT.attempts} wrong passwords within ${LOCKOUT.windowMs / 60_000} min, until ${until.toISOString()}`, until);
}

// One message for an unknown user and a wrong password: a refusal does not tell which user ids exist.
const wrongPassword = (credentials: Credentials, action: SignedAction) => refusal(credentials, action, 'credentials', `unknown user '${credentials.user}' or wrong password`);

/** Checks the two components; outside any transaction, since scrypt is slow on purpose. */
function authenticate(log: EventLog, credentials: Credentials, action: SignedAction): Enrolment {
  const locked = lockRefusal(log, credentials, action);
  if (locked) throw locked;
  const operator = enrolments(log).get(credentials.user);
  if (!passwordMatches(credentials.password, operator?.passwordHash ?? UNKNOWN_USER_HASH) || !operator) throw wrongPassword(credentials, action);
  return operator;
}

/** As authenticate, without holding the event loop while scrypt runs. */
async function authenticateSoon(log: EventLog, credentials: Credentials, action: SignedAction): Promise<Enrolment> {
  const locked = lockRefusal(log, credentials, action);
  if (locked) throw locked;
  const operator = enrolments(log).get(credentials.user);
  const matches = await passwordMatchesSoon(credentials.password, operator?.passwordHash ?? UNKNOWN_USER_HASH);
  // Attempts that ran meanwhile may have locked the user id: this one is refused then, right password or
  // not, or guesses sent all at once would all be compared before the first wrong one counted.
  const lockedMeanwhile = lockRefusal(log, credentials, action);
  if (lockedMeanwhile) throw lockedMeanwhile;
  if (!matches || !operator) throw wrongPassword(credentials, action);
  return operator;
}

/** Inside the transaction that writes the signed entry: the operator as the log says now may sign this. */
function authorise(log: EventLog, credentials: Credentials, verified: Enrolment, action: SignedAction, content: unknown): Signature {
  const operator = enrolments(log).get(verified.user);
  if (!operator || operator.passwordHash !== verified.passwordHash) throw refusal(credentials, action, 'credentials', `the password of ${credentials.user} changed while signing; sign again`);
  if (operator.disabled) throw refusal(credentials, action, 'disabled', `${credentials.user} may no longer sign (disabled by ${operator.disabled.by} at ${operator.disabled.at}: ${operator.disabled.reason})`);
  const authority = AUTHORITY[action];
  if (!operator.roles.some((role) => authority.roles.includes(role))) {
    throw refusal(credentials, action, 'authority', `${credentials.user} (${operator.roles.join(', ')}) may not sign ${authority.meaning}; that needs the role ${authority.roles.join(' or ')}`);
  }
  return { user: operator.user, printedName: operator.printedName, meaning: authority.meaning, signedAt: new Date(wallNow()).toISOString(), contentHash: contentHashOf(content) };
}

/**
 * Runs `write` (which checks and appends) in one transaction, handing it the signature function for
 * what it signs. A refused signature leaves nothing of `write` and is itself recorded.
 */
export function signed<T>(log: EventLog, credentials: Credentials, action: SignedAction, at: number, write: (sign: (content: unknown) => Signature) => T): T {
  try {
    const verified = authenticate(log, credentials, action);
    return log.atomically(() => write((content) => authorise(log, credentials, verified, action, content)));
  } catch (error) {
    if (error instanceof SignatureRefused) recordRefusal(log, error, at);
    throw error;
  }
}

/** As signed, the password compared off the event loop: for a server, where one login must not stall every other request. */
async function signedSoon<T>(log: EventLog, credentials: Credentials, action: SignedAction, at: number, write: (sign: (content: unknown) => Signature) => T): Promise<T> {
  try {
    const verified = await authenticateSoon(log, credentials, action);
    return log.atomically(() => write((content) => authorise(log, credentials, verified, action, content)));
  } catch (error) {
    if (error instanceof SignatureRefused) recordRefusal(log, error, at);
    throw error;
  }
}

/**
 * Records a refusal in the operators stream; while a user id is locked, only its first refused attempt,
 * so that anyone who can reach a login page cannot write entry after entry into the GMP record. The look
 * at what is recorded and the append are one transaction: a CLI and the server refusing the same user id
 * at once cannot both record its lock, nor both miss the move into it.
 */
function recordRefusal(log: EventLog, error: SignatureRefused, at: number): void {
  log.atomically(() => {
    if (error.kind === 'locked' && lockRecorded(log, error.user)) return;
    const refused: NewEntry = { stream: OPERATORS_STREAM, type: 'signature.refused', at, data: { user: error.user, action: error.action, kind: error.kind, reason: error.message, signedAt: new Date(wallNow()).toISOString() } };
    const before = error.kind === 'credentials' ? recentWrongPasswords(log, error.user).length : 0;
    // The wrong password that moves the user id into its lock raises the alarm: reported where `workcell status` shows it, not only in the operators stream.
    const locks = error.kind === 'credentials' && before < LOCKOUT.attempts && before + 1 >= LOCKOUT.attempts;
    const alarm: NewEntry = { stream: WORKCELL_STREAM, type: 'alarm', at, data: { kind: 'security', message: `user id ${error.user} locked for ${LOCKOUT.windowMs / 60_000} min after ${LOCKOUT.attempts} wrong passwords` } };
    log.appendAll(locks ? [refused, alarm] : [refused]);
  });
}

/** Whether the lock a user id is under now has its refusal recorded: one after the wrong password that locked it. */
function lockRecorded(log: EventLog, user: string): boolean {
  const ofUser = refusedSignatures(log).filter((e) => e.data.user === user);
  const lockedBy = ofUser.findLast((e) => e.data.kind === 'credentials');
  return ofUser.some((e) => e.data.kind === 'locked' && e.seq > (lockedBy?.seq ?? 0));
}

/**
 * Enrols an operator. The first one enrolled in a database must be an admin and signs for itself;
 * every later enrolment is signed by an admin.
 */
export function enrolOperator(log: EventLog, operator: { user: string; printedName: string; roles: Role[]; password: string }, admin: Credentials | undefined, at: number): LogEntry {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(operator.user)) throw new Error(`a user id is letters, digits, '.', '_' and '-', not '${printable(operator.user)}'`);
  if (!operator.printedName.trim()) throw new Error('give the printed name that signatures of this user show');
  // A name shows on every signature: a newline or escape in it could forge a line or hide what is signed.
  if (hasControlCharacters(operator.printedName)) throw new Error(`a printed name is one line of plain text, without control characters (line breaks, escapes, direction overrides): '${printable(operator.printedName)}'`);
  if (operator.roles.length === 0) throw new Error(`give at least one role (${ROLES.join(', ')})`);
  for (const role of operator.roles) if (!ROLES.includes(role)) throw new Error(`no role '${role}' (roles: ${ROLES.join(', ')})`);
  checkPassword(operator.password);
  const record = { user: operator.user, printedName: operator.printedName.trim(), roles: [...new Set(operator.roles)] };
  const passwordHash = hashPassword(operator.password); // before the transaction: scrypt is slow on purpose
  const append = (signature: Signature | null) =>
    log.append({ stream: OPERATORS_STREAM, type: 'operator.enrolled', at, data: { ...record, enrolledBy: signature?.user ?? null, enrolledAt: new Date(wallNow()).toISOString(), signature, passwordHash } });
  const checkNew = () => {
    if (enrolments(log).has(operator.user)) throw new Error(`user ${operator.user} is already enrolled`);
  };
  if (!admin) {
    return log.atomically(() => {
      if (enrolments(log).size > 0) throw new Error('operators are enrolled already: an admin signs each new enrolment (--by ADMIN)');
      if (!record.roles.includes('admin')) throw new Error('the first operator enrolled must be an admin, who then enrols the others');
      return append(null);
    });
  }
  return signed(log, admin, 'enrol', at, (sign) => {
    checkNew();
    return append(sign(record));
  });
}

/** Withdraws an operator's authority to sign (left the site, lost password); signed by an admin. The enrolment stays in the log. */
export function disableOperator(log: EventLog, user: string, reason: string, admin: Credentials, at: number): LogEntry {
  if (!reason.trim()) throw new Error('give a reason: withdrawing an authority to sign is recorded with why');
  return signed(log, admin, 'disable', at, (sign) => {
    const all = enrolments(log);
    const operator = all.get(user);
    if (!operator) throw new Error(`no operator ${user} is enrolled`);
    if (operator.disabled) throw new Error(`${user} was disabled already, by ${operator.disabled.by}`);
    const activeAdmins = [...all.values()].filter((o) => !o.disabled && o.roles.includes('admin'));
    if (operator.roles.includes('admin') && activeAdmins.length === 1) throw new Error(`${user} is the last admin: enrol another admin first, or nobody could enrol anyone again`);
    const signature = sign({ disable: user, reason });
    return log.append({ stream: OPERATORS_STREAM, type: 'operator.disabled', at, data: { user, reason, by: signature.user, disabledAt: signature.signedAt, signature } });
  });
}

/**
 * Opens a session of the web HMI: the same two components, the same lockout and the same record of a
 * refusal as a signature, so that guessing passwords at the login page locks the user id for the CLI
 * too. Nothing is written when it succeeds. Resolves to the operator as the log says now.
 */
export function logIn(log: EventLog, credentials: Credentials, at: number): Promise<Operator> {
  return signedSoon(log, credentials, 'login', at, (sign) => {
    sign({ login: credentials.user });
    return listOperators(log).find((o) => o.user === credentials.user)!;
  });
}

/** Changes an operator's own password, signed with the current one. */
export function changePassword(log: EventLog, credentials: Credentials, newPassword: string, at: number): LogEntry {
  checkPassword(newPassword);
  if (newPassword === credentials.password) throw new Error('the new password is the current one');
  const passwordHash = hashPassword(newPassword);
  return signed(log, credentials, 'password', at, (sign) => {
    const signature = sign({ passwordChangeOf: credentials.user });
    return log.append({ stream: OPERATORS_STREAM, type: 'operator.password-changed', at, data: { user: credentials.user, signature, passwordHash } });
  });
}

/**
 * The signed actions by which `user` took part in a batch: anything they signed in its record (the
 * request it was started from, a hold answer, a skip, a removal), and a changed layout they accepted
 * while it ran.
 */
export function partsInBatch(log: EventLog, batchId: string, user: string): Array<{ entry: LogEntry; signature: Signature; context: string }> {
  const entries = log.stream(batchId, { withoutTelemetry: true });
  // After its outcome, a layout change no longer concerns the batch.
  const { started: start, end } = projectBatch(entries);
  const started = start?.seq ?? Number.POSITIVE_INFINITY;
  const finished = end?.seq ?? Number.POSITIVE_INFINITY;
  const signedBy = (e: LogEntry) => {
    const signature = e.type === 'batch.started' ? e.data.request?.signature : 'signature' in e.data ? e.data.signature : undefined;
    return signature && signature.user === user ? signature : undefined;
  };
  const inRecord = entries.flatMap((entry) => {
    const signature = signedBy(entry);
    const step = 'step' in entry.data ? entry.data.step : undefined;
    return signature ? [{ entry, signature, context: step === undefined ? 'in it' : `(at ${printable(step)}) in it` }] : [];
  });
  // A batch started from a request before its batch.started entry named the request: the request itself.
  const requests = start?.data.request ? [] : log.ofType('batch.requested').flatMap((entry) => {
    const signature = entry.data.batchId === batchId ? signedBy(entry) : undefined;
    return signature ? [{ entry, signature, context: `of ${batchId}` }] : [];
  });
  const layoutChanges = log.ofType('layout.changed').flatMap((entry) => {
    const signature = signedBy(entry);
    return signature && entry.seq > started && entry.seq < finished ? [{ entry, signature, context: `(${printable(entry.data.reason)}) while ${batchId} ran` }] : [];
  });
  return [...inRecord, ...requests, ...layoutChanges].sort((a, b) => a.entry.seq - b.entry.seq);
}

/**
 * QA's release is an independent check (EU GMP Annex 16, 21 CFR 211.22): whoever signed for the batch
 * while it ran may not review its record. Called inside the review's signing transaction.
 */
export function requireIndependentReviewer(log: EventLog, batchId: string, credentials: Credentials, action: SignedAction): void {
  const earlier = partsInBatch(log, batchId, credentials.user)[0];
  if (!earlier) return;
  throw refusal(credentials, action, 'independence', `${credentials.user} may not review the record of ${batchId}: ${credentials.user} signed ${earlier.signature.meaning} ${earlier.context} at ${earlier.signature.signedAt}; the review needs someone who had no part in the batch`);
}
