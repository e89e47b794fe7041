import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, describeConfig, loadConfig, redactUrl, variables } from './config.js';

describe('config', () => {
  it('has working defaults for an embedded node', () => {
    const config = loadConfig({});
    assert.equal(config.port, 8080);
    assert.equal(config.host, '127.0.0.1');
    assert.equal(config.publicUrl, 'http://localhost:8080');
    assert.deepEqual(config.database, { kind: 'pglite', dataDir: path.resolve('.ocp-data', 'pg') });
    assert.deepEqual(config.mqtt, { kind: 'embedded', host: '127.0.0.1', port: 1883 });
    assert.equal(config.logLevel, 'info');
    assert.ok(Object.isFrozen(config));
  });

  it('maps the database and MQTT choices', () => {
    assert.deepEqual(loadConfig({ OCP_DATABASE_URL: 'memory:' }).database, {
      kind: 'pglite',
      dataDir: null,
    });
    assert.deepEqual(loadConfig({ OCP_DATABASE_URL: 'postgres://u:p@db/ocp' }).database, {
      kind: 'postgres',
      url: 'postgres://u:p@db/ocp',
    });
    assert.deepEqual(loadConfig({ OCP_MQTT_URL: 'none' }).mqtt, { kind: 'off' });
    assert.deepEqual(loadConfig({ OCP_MQTT_URL: 'mqtt://broker:1883' }).mqtt, {
      kind: 'external',
      url: 'mqtt://broker:1883',
    });
    assert.equal(
      loadConfig({ OCP_PUBLIC_URL: 'https://data.city.example/' }).publicUrl,
      'https://data.city.example',
    );
  });

  it('reports every invalid variable at once', () => {
    const error = (() => {
      try {
        loadConfig({
          OCP_PORT: 'abc',
          OCP_DATABASE_URL: 'nope://',
          OCP_LOG_LEVEL: 'loud',
          OCP_MQTT_URL: 'http://x',
          OCP_BOOTSTRAP_ADMIN_SECRET: 'short',
          OCP_PUBLIC_URL: 'ftp://x',
          OCP_TRUST_PROXY: '10.0.0.1, proxy.example.org',
        });
      } catch (e) {
        return e;
      }
      return null;
    })();
    assert.ok(error instanceof ConfigError);
    const names = error.problems.map((p) => p.split(':')[0]);
    assert.deepEqual(names.sort(), [
      'OCP_BOOTSTRAP_ADMIN_SECRET',
      'OCP_DATABASE_URL',
      'OCP_LOG_LEVEL',
      'OCP_MQTT_URL',
      'OCP_PORT',
      'OCP_PUBLIC_URL',
      'OCP_TRUST_PROXY',
    ]);
    // The secret's value must not be echoed back.
    assert.ok(!error.message.includes('short"'));
  });

  it('rejects out-of-range ports', () => {
    assert.throws(() => loadConfig({ OCP_PORT: '70000' }), /OCP_PORT: must be between 0 and 65535/);
    assert.throws(() => loadConfig({ OCP_PORT: '-1' }), /OCP_PORT/);
  });

  it('reads a JSON config file, with the environment taking precedence', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ocp-config-'));
    const file = path.join(dir, 'ocp.json');
    writeFileSync(file, JSON.stringify({ OCP_PORT: 9000, OCP_LOG_LEVEL: 'debug' }));
    const config = loadConfig({ OCP_CONFIG_FILE: file, OCP_LOG_LEVEL: 'warn' });
    assert.equal(config.port, 9000);
    assert.equal(config.logLevel, 'warn');
    writeFileSync(file, JSON.stringify({ OCP_PROT: 9000 }));
    assert.throws(() => loadConfig({ OCP_CONFIG_FILE: file }), /unknown variable "OCP_PROT"/);
    assert.throws(
      () => loadConfig({ OCP_CONFIG_FILE: path.join(dir, 'missing.json') }),
      /cannot read/,
    );
  });

  it('never shows database or broker passwords', () => {
    assert.equal(redactUrl('postgres://ocp:s3cret@db:5432/ocp'), 'postgres://ocp:***@db:5432/ocp');
    const summary = describeConfig(
      loadConfig({
        OCP_DATABASE_URL: 'postgres://ocp:s3cret@db/ocp',
        OCP_MQTT_URL: 'mqtt://dev:pw@b:1883',
      }),
    );
    assert.ok(!JSON.stringify(summary).includes('s3cret'));
    assert.ok(!JSON.stringify(summary).includes(':pw@'));
  });

  it('is documented variable by variable in docs/configuration.md', () => {
    const doc = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
    for (const name of Object.keys(variables))
      assert.ok(doc.includes(`\`${name}\``), `${name} missing from docs`);
  });
});
