/**
 * The rules of the identity registry. Every change is written together with its ledger
 * event in one transaction; ledger events name organisations and clients by id and
 * people only by a salted hash.
 */
import { ledgerPersonHash, recordLedgerEvent, type LedgerEvent } from '../ledger/ledger.events.js';
import type { Clock } from '../platform/clock.js';
import type { Database, Queryable } from '../platform/db/database.js';
import type { Actor, Role } from '../platform/http/access.js';
import { newId, newSecret } from './ids.js';
import {
  registryRepository as repo,
  type Client,
  type ClientWithSecret,
  type Organisation,
  type OrganisationKind,
  type Person,
} from './registry.repository.js';
import { DUMMY_HASH, hashSecret, verifySecret } from './secrets.js';

/** The client that OCP_BOOTSTRAP_ADMIN_SECRET creates, and the organisation owning it. */
export const BOOTSTRAP_CLIENT_ID = 'admin';
export const NODE_OPERATOR_ORGANISATION_ID = 'org_node';
const BOOTSTRAP_LOCK = 0x0c9_0021;

/** Who performed a change, as the ledger may record it. */
export type ChangeActor = Pick<Actor, 'kind' | 'id' | 'organisationId'>;

export type Failure<R extends string> = { ok: false; reason: R };
export type Result<T, R extends string> = ({ ok: true } & T) | Failure<R>;

export type { Client, Organisation, Person };

const stripSecret = ({ secretHash: _ignored, ...client }: ClientWithSecret): Client => client;

export class RegistryService {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
  ) {}

  private async ledgerActor(tx: Queryable, by: ChangeActor): Promise<LedgerEvent['actor']> {
    return {
      organisationId: by.organisationId,
      clientId: by.kind === 'client' ? by.id : null,
      personHash: by.kind === 'person' && by.id ? await ledgerPersonHash(tx, by.id) : null,
    };
  }

  /** A person as a ledger subject: only the node's salted hash of their id. */
  private async personSubject(tx: Queryable, personId: string): Promise<LedgerEvent['subject']> {
    return { kind: 'person', id: await ledgerPersonHash(tx, personId) };
  }

  private async record(
    tx: Queryable,
    by: ChangeActor,
    type: string,
    subject: LedgerEvent['subject'],
    details?: LedgerEvent['details'],
  ): Promise<void> {
    await recordLedgerEvent(
      tx,
      { type, actor: await this.ledgerActor(tx, by), subject, ...(details ? { details } : {}) },
      this.clock.now(),
    );
  }

  // ── organisations ──────────────────────────────────────────────────────────────

  listOrganisations(): Promise<Organisation[]> {
    return repo.listOrganisations(this.db);
  }

  getOrganisation(id: string): Promise<Organisation | null> {
    return repo.getOrganisation(this.db, id);
  }

  createOrganisation(
    by: ChangeActor,
    input: { name: string; kind: OrganisationKind; verified?: boolean },
  ): Promise<Organisation> {
    return this.db.transaction(async (tx) => {
      const org = await repo.insertOrganisation(tx, {
        id: newId('org'),
        name: input.name,
        kind: input.kind,
        verified: input.verified ?? false,
        at: this.clock.now(),
      });
      await this.record(
        tx,
        by,
        'organisation.created',
        { kind: 'organisation', id: org.id },
        {
          kind: org.kind,
          verified: org.verified,
        },
      );
      return org;
    });
  }

  updateOrganisation(
    by: ChangeActor,
    id: string,
    patch: { name?: string; verified?: boolean },
  ): Promise<Organisation | null> {
    return this.db.transaction(async (tx) => {
      const before = await repo.getOrganisation(tx, id);
      if (!before) return null;
      const after = await repo.updateOrganisation(tx, id, patch, this.clock.now());
      if (!after) return null;
      const subject = { kind: 'organisation', id };
      if (before.verified !== after.verified) {
        await this.record(
          tx,
          by,
          after.verified ? 'organisation.verified' : 'organisation.unverified',
          subject,
        );
      }
      if (before.name !== after.name) await this.record(tx, by, 'organisation.renamed', subject);
      return after;
    });
  }

  // ── API clients ────────────────────────────────────────────────────────────────

  async listClients(organisationId?: string): Promise<Client[]> {
    return (await repo.listClients(this.db, organisationId)).map(stripSecret);
  }

  async getClient(id: string): Promise<Client | null> {
    const client = await repo.getClient(this.db, id);
    return client ? stripSecret(client) : null;
  }

  /** Creates a client; the secret is returned here once and stored only as a hash. */
  async createClient(
    by: ChangeActor,
    input: { organisationId: string; name: string; roles: readonly Role[] },
  ): Promise<Result<{ client: Client; secret: string }, 'organisation_not_found'>> {
    const secret = newSecret();
    const secretHash = await hashSecret(secret);
    return this.db.transaction(async (tx) => {
      if (!(await repo.getOrganisation(tx, input.organisationId))) {
        return { ok: false, reason: 'organisation_not_found' } as const;
      }
      const id = newId('cli');
      const at = this.clock.now();
      await repo.insertClient(tx, {
        id,
        organisationId: input.organisationId,
        name: input.name,
        secretHash,
        at,
      });
      for (const role of new Set(input.roles)) await repo.grantRole(tx, { clientId: id }, role, at);
      await this.record(
        tx,
        by,
        'client.created',
        { kind: 'client', id },
        {
          organisationId: input.organisationId,
          roles: [...new Set(input.roles)].sort().join(','),
        },
      );
      const client = await repo.getClient(tx, id);
      return { ok: true, client: stripSecret(client!), secret } as const;
    });
  }

  /** Replaces a client's secret; tokens issued with the old one stop working at once. */
  async rotateClientSecret(by: ChangeActor, id: string): Promise<string | null> {
    const secret = newSecret();
    const secretHash = await hashSecret(secret);
    return this.db.transaction(async (tx) => {
      if (!(await repo.setClientSecret(tx, id, secretHash, this.clock.now()))) return null;
      await this.record(tx, by, 'client.secret_rotated', { kind: 'client', id });
      return secret;
    });
  }

  setClientStatus(
    by: ChangeActor,
    id: string,
    status: 'active' | 'disabled',
  ): Promise<Client | null> {
    return this.db.transaction(async (tx) => {
      if (await repo.setClientStatus(tx, id, status, this.clock.now())) {
        await this.record(tx, by, status === 'disabled' ? 'client.disabled' : 'client.enabled', {
          kind: 'client',
          id,
        });
      }
      const client = await repo.getClient(tx, id);
      return client ? stripSecret(client) : null;
    });
  }

  /** The client behind a client_id/secret pair, when both are right and it is active. */
  async authenticateClient(id: string, secret: string): Promise<Client | null> {
    const client = await repo.getClient(this.db, id);
    // Hash even for unknown ids, so timing does not reveal which client ids exist.
    const matches = await verifySecret(secret, client?.secretHash ?? DUMMY_HASH);
    if (!client || !matches || client.status !== 'active') return null;
    return stripSecret(client);
  }

  // ── roles ──────────────────────────────────────────────────────────────────────

  /** Grants or revokes a role; null when the client or person does not exist. */
  setRole(
    by: ChangeActor,
    subject: { kind: 'client' | 'person'; id: string },
    role: Role,
    granted: boolean,
  ): Promise<Role[] | null> {
    return this.db.transaction(async (tx) => {
      const holder =
        subject.kind === 'client'
          ? await repo.getClient(tx, subject.id)
          : await repo.getPerson(tx, subject.id);
      if (!holder) return null;
      const key = subject.kind === 'client' ? { clientId: subject.id } : { personId: subject.id };
      const changed = granted
        ? await repo.grantRole(tx, key, role, this.clock.now())
        : await repo.revokeRole(tx, key, role);
      if (changed) {
        await this.record(
          tx,
          by,
          granted ? 'role.granted' : 'role.revoked',
          subject.kind === 'client'
            ? { kind: 'client', id: subject.id }
            : await this.personSubject(tx, subject.id),
          { role, organisationId: holder.organisationId },
        );
      }
      const after =
        subject.kind === 'client'
          ? await repo.getClient(tx, subject.id)
          : await repo.getPerson(tx, subject.id);
      return after!.roles;
    });
  }

  // ── people ─────────────────────────────────────────────────────────────────────

  getPerson(id: string): Promise<Person | null> {
    return repo.getPerson(this.db, id);
  }

  listMembers(organisationId: string): Promise<Person[]> {
    return repo.listPeople(this.db, organisationId);
  }

  /** Disables or re-enables a person: their sessions stop working at once. */
  setPersonStatus(
    by: ChangeActor,
    id: string,
    status: 'active' | 'disabled',
  ): Promise<Person | null> {
    return this.db.transaction(async (tx) => {
      if (await repo.setPersonStatus(tx, id, status, this.clock.now())) {
        await this.record(
          tx,
          by,
          status === 'disabled' ? 'person.disabled' : 'person.enabled',
          await this.personSubject(tx, id),
        );
      }
      return repo.getPerson(tx, id);
    });
  }

  /** A local account of the built-in OpenID Provider. */
  async createLocalAccount(
    by: ChangeActor,
    issuer: string,
    input: {
      organisationId: string;
      username: string;
      password: string;
      displayName?: string;
      email?: string;
      roles: readonly Role[];
    },
  ): Promise<Result<{ person: Person }, 'organisation_not_found' | 'username_taken'>> {
    const passwordHash = await hashSecret(input.password);
    return this.db.transaction(async (tx) => {
      if (!(await repo.getOrganisation(tx, input.organisationId))) {
        return { ok: false, reason: 'organisation_not_found' } as const;
      }
      if (await repo.usernameTaken(tx, input.username)) {
        return { ok: false, reason: 'username_taken' } as const;
      }
      const id = newId('per');
      const at = this.clock.now();
      await repo.insertPerson(tx, {
        id,
        organisationId: input.organisationId,
        issuer,
        subject: id,
        displayName: input.displayName ?? null,
        email: input.email ?? null,
        username: input.username,
        passwordHash,
        at,
      });
      for (const role of new Set(input.roles)) await repo.grantRole(tx, { personId: id }, role, at);
      await this.record(tx, by, 'person.created', await this.personSubject(tx, id), {
        organisationId: input.organisationId,
        roles: [...new Set(input.roles)].sort().join(','),
      });
      const person = await repo.getPerson(tx, id);
      return { ok: true, person: person! } as const;
    });
  }

  /** Checks a local account's password; the person when it matches and is active. */
  async authenticateLocalAccount(username: string, password: string): Promise<Person | null> {
    const account = await repo.findLocalAccount(this.db, username);
    const matches = await verifySecret(password, account?.passwordHash ?? DUMMY_HASH);
    if (!account || !matches || account.status !== 'active') return null;
    const { passwordHash: _ignored, ...person } = account;
    return person;
  }

  /**
   * Finds or creates the person behind a single sign-on identity. For external issuers the
   * claim mapping decides organisation and roles on every sign-in, so changes in the
   * identity provider take effect at the next sign-in.
   */
  async signedInPerson(input: {
    issuer: string;
    subject: string;
    displayName: string | null;
    email: string | null;
    organisationId: string | null;
    roles: readonly Role[] | null;
  }): Promise<Person> {
    const system: ChangeActor = { kind: 'anonymous', id: null, organisationId: null };
    return this.db.transaction(async (tx) => {
      const at = this.clock.now();
      const organisationId =
        input.organisationId && (await repo.getOrganisation(tx, input.organisationId))
          ? input.organisationId
          : null;
      let person = await repo.findPersonBySubject(tx, input.issuer, input.subject);
      if (!person) {
        const id = newId('per');
        await repo.insertPerson(tx, {
          id,
          organisationId,
          issuer: input.issuer,
          subject: input.subject,
          displayName: input.displayName,
          email: input.email,
          username: null,
          passwordHash: null,
          at,
        });
        await this.record(tx, system, 'person.created', await this.personSubject(tx, id), {
          organisationId,
        });
      } else {
        await repo.updatePersonProfile(
          tx,
          person.id,
          { organisationId, displayName: input.displayName, email: input.email },
          at,
        );
      }
      person = (await repo.findPersonBySubject(tx, input.issuer, input.subject))!;
      if (input.roles) {
        const wanted = new Set(input.roles);
        for (const role of wanted) {
          if (
            !person.roles.includes(role) &&
            (await repo.grantRole(tx, { personId: person.id }, role, at))
          ) {
            await this.record(tx, system, 'role.granted', await this.personSubject(tx, person.id), {
              role,
              organisationId: person.organisationId,
              source: 'sign-in',
            });
          }
        }
        for (const role of person.roles) {
          if (!wanted.has(role) && (await repo.revokeRole(tx, { personId: person.id }, role))) {
            await this.record(tx, system, 'role.revoked', await this.personSubject(tx, person.id), {
              role,
              organisationId: person.organisationId,
              source: 'sign-in',
            });
          }
        }
        person = (await repo.getPerson(tx, person.id))!;
      }
      return person;
    });
  }

  // ── bootstrap ──────────────────────────────────────────────────────────────────

  /** Creates or resets the `admin` client with role admin and the given secret. */
  async bootstrapAdmin(secret: string): Promise<'created' | 'reset' | 'unchanged'> {
    // Every process of a node runs this at start: leave a matching client alone, so a
    // restart does not invalidate the tokens it issued.
    const current = await repo.getClient(this.db, BOOTSTRAP_CLIENT_ID);
    if (
      current?.status === 'active' &&
      current.roles.includes('admin') &&
      (await verifySecret(secret, current.secretHash))
    ) {
      return 'unchanged';
    }
    const secretHash = await hashSecret(secret);
    const system: ChangeActor = { kind: 'anonymous', id: null, organisationId: null };
    return this.db.transaction(async (tx) => {
      // Processes starting together: one resets, the others find it done.
      await tx.query('SELECT pg_advisory_xact_lock($1)', [BOOTSTRAP_LOCK]);
      const again = await repo.getClient(tx, BOOTSTRAP_CLIENT_ID);
      if (
        again?.status === 'active' &&
        again.roles.includes('admin') &&
        (await verifySecret(secret, again.secretHash))
      ) {
        return 'unchanged' as const;
      }
      const at = this.clock.now();
      if (
        await repo.ensureOrganisation(tx, {
          id: NODE_OPERATOR_ORGANISATION_ID,
          name: 'Node operator',
          kind: 'city_department',
          verified: true,
          at,
        })
      ) {
        await this.record(
          tx,
          system,
          'organisation.created',
          { kind: 'organisation', id: NODE_OPERATOR_ORGANISATION_ID },
          { kind: 'city_department', verified: true, source: 'bootstrap' },
        );
      }
      const created = await repo.upsertClient(tx, {
        id: BOOTSTRAP_CLIENT_ID,
        organisationId: NODE_OPERATOR_ORGANISATION_ID,
        name: 'Bootstrap administrator',
        secretHash,
        at,
      });
      await repo.grantRole(tx, { clientId: BOOTSTRAP_CLIENT_ID }, 'admin', at);
      await this.record(
        tx,
        system,
        created ? 'client.created' : 'client.secret_rotated',
        { kind: 'client', id: BOOTSTRAP_CLIENT_ID },
        { organisationId: NODE_OPERATOR_ORGANISATION_ID, roles: 'admin', source: 'bootstrap' },
      );
      return created ? 'created' : 'reset';
    });
  }
}
