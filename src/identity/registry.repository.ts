/** SQL for the identity registry: organisations, API clients, people and their roles. */
import type { Queryable } from '../platform/db/database.js';
import type { Role } from '../platform/http/access.js';

export const organisationKinds = [
  'city_department',
  'government',
  'company',
  'ngo',
  'research',
] as const;
export type OrganisationKind = (typeof organisationKinds)[number];

export interface Organisation {
  id: string;
  name: string;
  kind: OrganisationKind;
  verified: boolean;
  createdAt: Date;
  updatedAt: Date;
}

export interface Client {
  id: string;
  organisationId: string;
  name: string;
  status: 'active' | 'disabled';
  credentialVersion: number;
  roles: Role[];
  createdAt: Date;
  updatedAt: Date;
}

export interface ClientWithSecret extends Client {
  secretHash: string;
}

export interface Person {
  id: string;
  organisationId: string | null;
  issuer: string;
  subject: string;
  displayName: string | null;
  email: string | null;
  username: string | null;
  status: 'active' | 'disabled';
  roles: Role[];
  createdAt: Date;
}

interface OrganisationRow {
  id: string;
  name: string;
  kind: OrganisationKind;
  verified: boolean;
  created_at: Date;
  updated_at: Date;
}

const toOrganisation = (row: OrganisationRow): Organisation => ({
  id: row.id,
  name: row.name,
  kind: row.kind,
  verified: row.verified,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

interface ClientRow {
  id: string;
  organisation_id: string;
  name: string;
  status: 'active' | 'disabled';
  credential_version: number;
  secret_hash: string;
  roles: Role[] | null;
  created_at: Date;
  updated_at: Date;
}

const toClient = (row: ClientRow): ClientWithSecret => ({
  id: row.id,
  organisationId: row.organisation_id,
  name: row.name,
  status: row.status,
  credentialVersion: row.credential_version,
  roles: [...(row.roles ?? [])].sort(),
  secretHash: row.secret_hash,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

interface PersonRow {
  id: string;
  organisation_id: string | null;
  issuer: string;
  subject: string;
  display_name: string | null;
  email: string | null;
  username: string | null;
  status: 'active' | 'disabled';
  roles: Role[] | null;
  created_at: Date;
}

const toPerson = (row: PersonRow): Person => ({
  id: row.id,
  organisationId: row.organisation_id,
  issuer: row.issuer,
  subject: row.subject,
  displayName: row.display_name,
  email: row.email,
  username: row.username,
  status: row.status,
  roles: [...(row.roles ?? [])].sort(),
  createdAt: row.created_at,
});

const SELECT_CLIENT = `
  SELECT c.*, (SELECT array_agg(r.role) FROM identity_roles r WHERE r.client_id = c.id) AS roles
  FROM identity_clients c`;

const SELECT_PERSON = `
  SELECT p.*, (SELECT array_agg(r.role) FROM identity_roles r WHERE r.person_id = p.id) AS roles
  FROM identity_people p`;

export const registryRepository = {
  async insertOrganisation(
    q: Queryable,
    org: { id: string; name: string; kind: OrganisationKind; verified: boolean; at: Date },
  ): Promise<Organisation> {
    const { rows } = await q.query<OrganisationRow>(
      `INSERT INTO identity_organisations (id, name, kind, verified, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $5) RETURNING *`,
      [org.id, org.name, org.kind, org.verified, org.at],
    );
    return toOrganisation(rows[0]!);
  },

  async ensureOrganisation(
    q: Queryable,
    org: { id: string; name: string; kind: OrganisationKind; verified: boolean; at: Date },
  ): Promise<boolean> {
    const { rowCount } = await q.query(
      `INSERT INTO identity_organisations (id, name, kind, verified, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (id) DO NOTHING`,
      [org.id, org.name, org.kind, org.verified, org.at],
    );
    return rowCount > 0;
  },

  async getOrganisation(q: Queryable, id: string): Promise<Organisation | null> {
    const { rows } = await q.query<OrganisationRow>(
      'SELECT * FROM identity_organisations WHERE id = $1',
      [id],
    );
    return rows[0] ? toOrganisation(rows[0]) : null;
  },

  async listOrganisations(q: Queryable): Promise<Organisation[]> {
    const { rows } = await q.query<OrganisationRow>(
      'SELECT * FROM identity_organisations ORDER BY created_at, id',
    );
    return rows.map(toOrganisation);
  },

  async updateOrganisation(
    q: Queryable,
    id: string,
    patch: { name?: string; verified?: boolean },
    at: Date,
  ): Promise<Organisation | null> {
    const { rows } = await q.query<OrganisationRow>(
      `UPDATE identity_organisations
         SET name = COALESCE($2, name), verified = COALESCE($3, verified), updated_at = $4
       WHERE id = $1 RETURNING *`,
      [id, patch.name ?? null, patch.verified ?? null, at],
    );
    return rows[0] ? toOrganisation(rows[0]) : null;
  },

  async insertClient(
    q: Queryable,
    client: { id: string; organisationId: string; name: string; secretHash: string; at: Date },
  ): Promise<void> {
    await q.query(
      `INSERT INTO identity_clients (id, organisation_id, name, status, secret_hash, created_at, updated_at)
       VALUES ($1, $2, $3, 'active', $4, $5, $5)`,
      [client.id, client.organisationId, client.name, client.secretHash, client.at],
    );
  },

  /** Creates or resets a client with a fixed id (bootstrap); true when it was created. */
  async upsertClient(
    q: Queryable,
    client: { id: string; organisationId: string; name: string; secretHash: string; at: Date },
  ): Promise<boolean> {
    const { rows } = await q.query<{ created: boolean }>(
      `INSERT INTO identity_clients (id, organisation_id, name, status, secret_hash, created_at, updated_at)
       VALUES ($1, $2, $3, 'active', $4, $5, $5)
       ON CONFLICT (id) DO UPDATE
         SET status = 'active', secret_hash = EXCLUDED.secret_hash,
             credential_version = identity_clients.credential_version + 1, updated_at = EXCLUDED.updated_at
       RETURNING (xmax = 0) AS created`,
      [client.id, client.organisationId, client.name, client.secretHash, client.at],
    );
    return rows[0]!.created;
  },

  async getClient(q: Queryable, id: string): Promise<ClientWithSecret | null> {
    const { rows } = await q.query<ClientRow>(`${SELECT_CLIENT} WHERE c.id = $1`, [id]);
    return rows[0] ? toClient(rows[0]) : null;
  },

  async listClients(q: Queryable, organisationId?: string): Promise<ClientWithSecret[]> {
    const { rows } = organisationId
      ? await q.query<ClientRow>(
          `${SELECT_CLIENT} WHERE c.organisation_id = $1 ORDER BY c.created_at, c.id`,
          [organisationId],
        )
      : await q.query<ClientRow>(`${SELECT_CLIENT} ORDER BY c.created_at, c.id`);
    return rows.map(toClient);
  },

  async setClientStatus(
    q: Queryable,
    id: string,
    status: 'active' | 'disabled',
    at: Date,
  ): Promise<boolean> {
    const { rowCount } = await q.query(
      'UPDATE identity_clients SET status = $2, updated_at = $3 WHERE id = $1 AND status <> $2',
      [id, status, at],
    );
    return rowCount > 0;
  },

  async setClientSecret(q: Queryable, id: string, secretHash: string, at: Date): Promise<boolean> {
    const { rowCount } = await q.query(
      `UPDATE identity_clients
         SET secret_hash = $2, credential_version = credential_version + 1, updated_at = $3
       WHERE id = $1`,
      [id, secretHash, at],
    );
    return rowCount > 0;
  },

  async grantRole(
    q: Queryable,
    subject: { clientId?: string; personId?: string },
    role: Role,
    at: Date,
  ): Promise<boolean> {
    const { rowCount } = await q.query(
      `INSERT INTO identity_roles (client_id, person_id, role, granted_at)
       SELECT $1::text, $2::text, $3::text, $4::timestamptz
       WHERE NOT EXISTS (
         SELECT 1 FROM identity_roles
         WHERE role = $3::text AND (client_id = $1::text OR person_id = $2::text))`,
      [subject.clientId ?? null, subject.personId ?? null, role, at],
    );
    return rowCount > 0;
  },

  async revokeRole(
    q: Queryable,
    subject: { clientId?: string; personId?: string },
    role: Role,
  ): Promise<boolean> {
    const { rowCount } = await q.query(
      'DELETE FROM identity_roles WHERE role = $3::text AND (client_id = $1::text OR person_id = $2::text)',
      [subject.clientId ?? null, subject.personId ?? null, role],
    );
    return rowCount > 0;
  },

  async getPerson(q: Queryable, id: string): Promise<Person | null> {
    const { rows } = await q.query<PersonRow>(`${SELECT_PERSON} WHERE p.id = $1`, [id]);
    return rows[0] ? toPerson(rows[0]) : null;
  },

  async findPersonBySubject(q: Queryable, issuer: string, subject: string): Promise<Person | null> {
    const { rows } = await q.query<PersonRow>(
      `${SELECT_PERSON} WHERE p.issuer = $1 AND p.subject = $2`,
      [issuer, subject],
    );
    return rows[0] ? toPerson(rows[0]) : null;
  },

  async findLocalAccount(
    q: Queryable,
    username: string,
  ): Promise<(Person & { passwordHash: string }) | null> {
    const { rows } = await q.query<PersonRow & { password_hash: string }>(
      `${SELECT_PERSON} WHERE p.username = $1 AND p.password_hash IS NOT NULL`,
      [username],
    );
    return rows[0] ? { ...toPerson(rows[0]), passwordHash: rows[0].password_hash } : null;
  },

  async listPeople(q: Queryable, organisationId: string): Promise<Person[]> {
    const { rows } = await q.query<PersonRow>(
      `${SELECT_PERSON} WHERE p.organisation_id = $1 ORDER BY p.created_at, p.id`,
      [organisationId],
    );
    return rows.map(toPerson);
  },

  async insertPerson(
    q: Queryable,
    person: {
      id: string;
      organisationId: string | null;
      issuer: string;
      subject: string;
      displayName: string | null;
      email: string | null;
      username: string | null;
      passwordHash: string | null;
      at: Date;
    },
  ): Promise<void> {
    await q.query(
      `INSERT INTO identity_people
         (id, organisation_id, issuer, subject, display_name, email, username, password_hash, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)`,
      [
        person.id,
        person.organisationId,
        person.issuer,
        person.subject,
        person.displayName,
        person.email,
        person.username,
        person.passwordHash,
        person.at,
      ],
    );
  },

  async updatePersonProfile(
    q: Queryable,
    id: string,
    profile: { organisationId: string | null; displayName: string | null; email: string | null },
    at: Date,
  ): Promise<void> {
    await q.query(
      `UPDATE identity_people
         SET organisation_id = COALESCE($2, organisation_id), display_name = $3, email = $4, updated_at = $5
       WHERE id = $1`,
      [id, profile.organisationId, profile.displayName, profile.email, at],
    );
  },

  async setPersonStatus(
    q: Queryable,
    id: string,
    status: 'active' | 'disabled',
    at: Date,
  ): Promise<boolean> {
    const { rowCount } = await q.query(
      'UPDATE identity_people SET status = $2, updated_at = $3 WHERE id = $1 AND status <> $2',
      [id, status, at],
    );
    return rowCount > 0;
  },

  async usernameTaken(q: Queryable, username: string): Promise<boolean> {
    const { rows } = await q.query('SELECT 1 FROM identity_people WHERE username = $1', [username]);
    return rows.length > 0;
  },

  /**
   * A node-wide value created once (salts, provider keys): the first process to start
   * stores `fresh`, every process then reads the stored value.
   */
  async setting(q: Queryable, name: string, fresh: string): Promise<string> {
    await q.query(
      `INSERT INTO identity_settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`,
      [name, fresh],
    );
    const { rows } = await q.query<{ value: string }>(
      'SELECT value FROM identity_settings WHERE name = $1',
      [name],
    );
    return rows[0]!.value;
  },
};
