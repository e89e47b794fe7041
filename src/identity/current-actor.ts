/**
 * An actor as identity knows it now. Work done later on someone's behalf — a notification
 * of their subscription — must run with what they may do at that time: a client or
 * person that was disabled or deleted, or lost a role or changed organisation since,
 * must not keep seeing what they once could.
 */
import type { Queryable } from '../platform/db/database.js';
import type { Actor } from '../platform/http/access.js';
import { registryRepository } from './registry.repository.js';

/**
 * The current organisation and roles of an API client (`cli_…`) or person (`per_…`);
 * null when it no longer exists or is disabled. Other actors carry no record here (the
 * anonymous caller; a peer node's consumer, which holds the consumer role only and is
 * governed by its organisation's grants) and are returned as they are.
 */
export async function currentActor(db: Queryable, actor: Actor): Promise<Actor | null> {
  const id = actor.id;
  if (id === null) return actor;
  const found = id.startsWith('cli_')
    ? await registryRepository.getClient(db, id)
    : id.startsWith('per_')
      ? await registryRepository.getPerson(db, id)
      : undefined;
  if (found === undefined) return actor;
  if (!found || found.status !== 'active') return null;
  return { ...actor, organisationId: found.organisationId, roles: found.roles };
}
