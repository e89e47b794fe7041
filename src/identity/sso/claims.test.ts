import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../platform/config.js';
import { mapClaims } from './relying-party.js';

const issuer = {
  name: 'city',
  issuer: 'https://login.city.example/realms/staff',
  clientId: 'ocp',
  clientSecret: 'secret',
};

describe('single sign-on configuration and claim mapping', () => {
  it('maps an organisation claim and role groups through the configured tables', () => {
    const mapping = {
      ...issuer,
      organisationClaim: 'department',
      organisations: { parks: 'org_parks1' },
      rolesClaim: 'groups',
      roles: { 'ocp-stewards': 'steward', 'ocp-publishers': 'publisher' },
    };
    assert.deepEqual(
      mapClaims(mapping, {
        department: 'parks',
        groups: ['ocp-stewards', 'staff', 'ocp-stewards'],
      }),
      { organisationId: 'org_parks1', roles: ['steward'] },
    );
    assert.deepEqual(
      mapClaims(mapping, { department: 'unknown', groups: 'ocp-publishers staff' }),
      {
        organisationId: null,
        roles: ['publisher'],
      },
    );
    // Without a roles claim configured, roles stay managed in the node.
    assert.deepEqual(mapClaims(issuer, { groups: ['admin'] }), {
      organisationId: null,
      roles: null,
    });
  });

  it('takes role names and org ids as they are when no table is given, never inventing roles', () => {
    const mapping = { ...issuer, organisationClaim: 'org', rolesClaim: 'roles' };
    assert.deepEqual(mapClaims(mapping, { org: 'org_abc', roles: ['consumer', 'superuser'] }), {
      organisationId: 'org_abc',
      roles: ['consumer'],
    });
    assert.equal(mapClaims(mapping, { org: 'Parks Dept' }).organisationId, null);
  });

  it('validates OCP_OIDC_ISSUERS and OCP_OIDC_PROVIDER_CLIENTS at start', () => {
    const ok = loadConfig({
      OCP_OIDC_ISSUERS: JSON.stringify([{ ...issuer, issuer: `${issuer.issuer}/` }]),
    });
    assert.equal(ok.oidcIssuers[0]!.issuer, issuer.issuer);
    const bad = (env: Record<string, string>) =>
      assert.throws(
        () => loadConfig(env),
        (e: unknown) => e instanceof ConfigError,
      );
    bad({ OCP_OIDC_ISSUERS: 'not json' });
    bad({ OCP_OIDC_ISSUERS: JSON.stringify([{ ...issuer, clientSecret: '' }]) });
    bad({ OCP_OIDC_ISSUERS: JSON.stringify([{ ...issuer, roles: { x: 'emperor' } }]) });
    bad({ OCP_OIDC_ISSUERS: JSON.stringify([issuer, issuer]) });
    bad({ OCP_OIDC_ISSUERS: JSON.stringify([{ ...issuer, issuer: 'ftp://x' }]) });
    bad({
      OCP_OIDC_PROVIDER_CLIENTS: JSON.stringify([
        { clientId: 'a', clientSecret: 'short', redirectUris: ['https://a.example/cb'] },
      ]),
    });
    bad({
      OCP_OIDC_PROVIDER_CLIENTS: JSON.stringify([
        {
          clientId: 'ocp-portal',
          clientSecret: 'x'.repeat(32),
          redirectUris: ['https://a.example/cb'],
        },
      ]),
    });
    const clients = loadConfig({
      OCP_OIDC_PROVIDER_CLIENTS: JSON.stringify([
        {
          clientId: 'permits',
          clientSecret: 'x'.repeat(32),
          redirectUris: ['https://a.example/cb'],
        },
      ]),
    });
    assert.deepEqual(clients.oidcProviderClients[0]!.redirectUris, ['https://a.example/cb']);
  });
});
