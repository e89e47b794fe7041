/**
 * The node's ODRL 2.2 policy profile: the small, documented subset of ODRL a dataset
 * policy may use (docs/governance.md). Everything outside it is rejected on write with
 * the JSON pointer of the offending term — a term we silently ignored would be a rule
 * the city believes is enforced and is not.
 */
import type { FieldError } from '../platform/http/errors.js';

export const ODRL_CONTEXT = 'http://www.w3.org/ns/odrl.jsonld';
export const POLICY_PROFILE = 'https://opencity.example/ns/odrl-profile/v1';

const POLICY_TYPES = new Set(['Set', 'Offer', 'Agreement']);
const PERMISSION_ACTIONS = new Set(['use', 'read', 'distribute', 'commercialize']);
const PROHIBITION_ACTIONS = new Set(['distribute', 'commercialize']);
const DUTY_ACTIONS = new Set(['attribute', 'delete']);
const POLICY_KEYS = new Set(['@context', '@type', 'uid', 'profile', 'permission', 'prohibition']);
const RULE_KEYS = new Set(['action', 'constraint', 'duty']);
const CONSTRAINT_KEYS = new Set(['leftOperand', 'operator', 'rightOperand', 'unit']);
const DURATION = /^P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+S)?)?$/;

export interface PolicyConstraint {
  leftOperand: string;
  operator: string;
  rightOperand: unknown;
  unit?: string;
}
export interface PolicyRule {
  action: string;
  constraint?: PolicyConstraint[];
  duty?: PolicyRule[];
}
export interface Policy {
  '@context': unknown;
  '@type': string;
  uid?: string;
  profile?: string;
  permission?: PolicyRule[];
  prohibition?: PolicyRule[];
}

/** What a validated policy means for access requests and grants. */
export interface PolicyTerms {
  /** Purposes permitted; null = any purpose in the vocabulary. */
  purposes: string[] | null;
  commercialAllowed: boolean;
  /** Permission window. */
  notBefore: Date | null;
  notAfter: Date | null;
  /** Requests per UTC day, if the policy caps it. */
  countPerDay: number | null;
  spatialResolutionMetres: number | null;
  temporalResolution: string | null;
  attribution: string | null;
  deleteAfter: string | null;
}

type Check = (c: PolicyConstraint, path: string, errors: FieldError[]) => void;

const isIsoDate = (v: unknown) => typeof v === 'string' && !Number.isNaN(Date.parse(v));

/** Left operands of the profile, each with the operators and right operands it accepts. */
function constraintChecks(purposes: ReadonlySet<string>): Record<string, Check> {
  return {
    purpose: (c, path, errors) => {
      if (c.operator !== 'eq' && c.operator !== 'isAnyOf') {
        errors.push({ path: `${path}/operator`, message: 'purpose takes eq or isAnyOf' });
      }
      const values = Array.isArray(c.rightOperand) ? c.rightOperand : [c.rightOperand];
      if (values.length === 0) errors.push({ path: `${path}/rightOperand`, message: 'empty' });
      values.forEach((v, i) => {
        if (typeof v !== 'string' || !purposes.has(v)) {
          errors.push({
            path: `${path}/rightOperand${Array.isArray(c.rightOperand) ? `/${i}` : ''}`,
            message: `unknown purpose ${JSON.stringify(v)} (see /api/v1/purposes)`,
          });
        }
      });
    },
    dateTime: (c, path, errors) => {
      if (!['gt', 'gteq', 'lt', 'lteq'].includes(c.operator)) {
        errors.push({ path: `${path}/operator`, message: 'dateTime takes gt, gteq, lt or lteq' });
      }
      if (!isIsoDate(c.rightOperand)) {
        errors.push({ path: `${path}/rightOperand`, message: 'must be an ISO 8601 date-time' });
      }
    },
    count: (c, path, errors) => {
      if (c.operator !== 'lteq' && c.operator !== 'lt') {
        errors.push({ path: `${path}/operator`, message: 'count takes lteq or lt' });
      }
      if (!Number.isInteger(c.rightOperand) || (c.rightOperand as number) < 1) {
        errors.push({ path: `${path}/rightOperand`, message: 'must be a positive integer' });
      }
      if (c.unit !== undefined && c.unit !== 'perDay') {
        errors.push({ path: `${path}/unit`, message: 'count is counted perDay' });
      }
    },
    'ocp:spatialResolution': (c, path, errors) => {
      if (c.operator !== 'gteq') {
        errors.push({ path: `${path}/operator`, message: 'ocp:spatialResolution takes gteq' });
      }
      if (typeof c.rightOperand !== 'number' || !(c.rightOperand > 0)) {
        errors.push({
          path: `${path}/rightOperand`,
          message: 'must be a positive number of metres',
        });
      }
    },
    'ocp:temporalResolution': (c, path, errors) => {
      if (c.operator !== 'gteq') {
        errors.push({ path: `${path}/operator`, message: 'ocp:temporalResolution takes gteq' });
      }
      if (typeof c.rightOperand !== 'string' || !DURATION.test(c.rightOperand)) {
        errors.push({ path: `${path}/rightOperand`, message: 'must be an ISO 8601 duration' });
      }
    },
  };
}

function checkKeys(
  value: object,
  allowed: ReadonlySet<string>,
  path: string,
  errors: FieldError[],
) {
  for (const key of Object.keys(value)) {
    if (!allowed.has(key)) {
      errors.push({ path: `${path}/${key}`, message: `unsupported term ${key} in this profile` });
    }
  }
}

function asArray(value: unknown, path: string, errors: FieldError[]): unknown[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) {
    errors.push({ path, message: 'must be an array' });
    return [];
  }
  if (value.length > 20) errors.push({ path, message: 'at most 20 items' });
  return value;
}

function checkRule(
  rule: unknown,
  path: string,
  actions: ReadonlySet<string>,
  checks: Record<string, Check>,
  errors: FieldError[],
  allowDuties: boolean,
): void {
  if (!rule || typeof rule !== 'object' || Array.isArray(rule)) {
    errors.push({ path, message: 'must be an object' });
    return;
  }
  checkKeys(rule, allowDuties ? RULE_KEYS : new Set(['action', 'constraint']), path, errors);
  const r = rule as Record<string, unknown>;
  if (typeof r.action !== 'string' || !actions.has(r.action)) {
    errors.push({
      path: `${path}/action`,
      message: `unsupported action ${JSON.stringify(r.action)}; one of ${[...actions].join(', ')}`,
    });
  }
  asArray(r.constraint, `${path}/constraint`, errors).forEach((c, i) => {
    const cp = `${path}/constraint/${i}`;
    if (!c || typeof c !== 'object' || Array.isArray(c)) {
      errors.push({ path: cp, message: 'must be an object' });
      return;
    }
    checkKeys(c, CONSTRAINT_KEYS, cp, errors);
    const constraint = c as PolicyConstraint;
    if (r.action === 'delete') {
      if (constraint.leftOperand !== 'elapsedTime' || constraint.operator !== 'lteq') {
        errors.push({ path: cp, message: 'the delete duty takes elapsedTime lteq <duration>' });
      } else if (
        typeof constraint.rightOperand !== 'string' ||
        !DURATION.test(constraint.rightOperand)
      ) {
        errors.push({ path: `${cp}/rightOperand`, message: 'must be an ISO 8601 duration' });
      }
      return;
    }
    if (r.action === 'attribute') {
      errors.push({ path: cp, message: 'the attribute duty takes no constraint' });
      return;
    }
    const check = checks[constraint.leftOperand];
    if (!check) {
      errors.push({
        path: `${cp}/leftOperand`,
        message: `unsupported leftOperand ${JSON.stringify(constraint.leftOperand)}; one of ${Object.keys(checks).join(', ')}`,
      });
      return;
    }
    check(constraint, cp, errors);
  });
  if (allowDuties) {
    asArray(r.duty, `${path}/duty`, errors).forEach((d, i) =>
      checkRule(d, `${path}/duty/${i}`, DUTY_ACTIONS, checks, errors, false),
    );
  }
}

/** Validates a policy against the profile; returns every problem at once. */
export function validatePolicy(policy: unknown, purposes: ReadonlySet<string>): FieldError[] {
  const errors: FieldError[] = [];
  const base = '/policy';
  if (!policy || typeof policy !== 'object' || Array.isArray(policy)) {
    return [{ path: base, message: 'must be an ODRL policy object' }];
  }
  checkKeys(policy, POLICY_KEYS, base, errors);
  const p = policy as Record<string, unknown>;
  const ctx = p['@context'];
  const ctxOk =
    ctx === ODRL_CONTEXT || (Array.isArray(ctx) && ctx.length > 0 && ctx[0] === ODRL_CONTEXT);
  if (!ctxOk) errors.push({ path: `${base}/@context`, message: `must be ${ODRL_CONTEXT}` });
  if (typeof p['@type'] !== 'string' || !POLICY_TYPES.has(p['@type'])) {
    errors.push({ path: `${base}/@type`, message: 'must be Set, Offer or Agreement' });
  }
  if (p.profile !== undefined && p.profile !== POLICY_PROFILE) {
    errors.push({ path: `${base}/profile`, message: `only ${POLICY_PROFILE} is supported` });
  }
  const checks = constraintChecks(purposes);
  const permissions = asArray(p.permission, `${base}/permission`, errors);
  if (permissions.length === 0 && errors.length === 0) {
    errors.push({ path: `${base}/permission`, message: 'a policy needs at least one permission' });
  }
  permissions.forEach((rule, i) =>
    checkRule(rule, `${base}/permission/${i}`, PERMISSION_ACTIONS, checks, errors, true),
  );
  asArray(p.prohibition, `${base}/prohibition`, errors).forEach((rule, i) =>
    checkRule(rule, `${base}/prohibition/${i}`, PROHIBITION_ACTIONS, checks, errors, false),
  );
  return errors;
}

/** Reads the terms out of a validated policy (the first permission that grants use). */
export function policyTerms(policy: Policy): PolicyTerms {
  const terms: PolicyTerms = {
    purposes: null,
    commercialAllowed: true,
    notBefore: null,
    notAfter: null,
    countPerDay: null,
    spatialResolutionMetres: null,
    temporalResolution: null,
    attribution: null,
    deleteAfter: null,
  };
  for (const rule of policy.permission ?? []) {
    for (const c of rule.constraint ?? []) {
      if (c.leftOperand === 'purpose') {
        const values = (
          Array.isArray(c.rightOperand) ? c.rightOperand : [c.rightOperand]
        ) as string[];
        terms.purposes = [...(terms.purposes ?? []), ...values];
      } else if (c.leftOperand === 'dateTime') {
        const at = new Date(c.rightOperand as string);
        if (c.operator === 'gt' || c.operator === 'gteq') terms.notBefore = at;
        else terms.notAfter = at;
      } else if (c.leftOperand === 'count') {
        const n = c.rightOperand as number;
        terms.countPerDay = c.operator === 'lt' ? n - 1 : n;
      } else if (c.leftOperand === 'ocp:spatialResolution') {
        terms.spatialResolutionMetres = c.rightOperand as number;
      } else if (c.leftOperand === 'ocp:temporalResolution') {
        terms.temporalResolution = c.rightOperand as string;
      }
    }
    for (const duty of rule.duty ?? []) {
      if (duty.action === 'attribute') terms.attribution = 'required';
      if (duty.action === 'delete')
        terms.deleteAfter = duty.constraint?.[0]?.rightOperand as string;
    }
  }
  for (const rule of policy.prohibition ?? []) {
    if (rule.action === 'commercialize') terms.commercialAllowed = false;
  }
  return terms;
}

/** The policy in plain language, one sentence per term, for the catalog and portal. */
export function describePolicy(policy: Policy): string[] {
  const t = policyTerms(policy);
  const out: string[] = [];
  out.push(
    t.purposes
      ? `You may use this data only for: ${t.purposes.join(', ')}.`
      : 'You may use this data for any purpose in the city vocabulary.',
  );
  out.push(t.commercialAllowed ? 'Commercial use is allowed.' : 'Commercial use is not allowed.');
  if (t.notBefore) out.push(`Use is permitted from ${t.notBefore.toISOString()}.`);
  if (t.notAfter) out.push(`Use is permitted until ${t.notAfter.toISOString()}.`);
  if (t.countPerDay !== null) out.push(`At most ${t.countPerDay} requests per day.`);
  if (t.spatialResolutionMetres !== null) {
    out.push(`Locations are no finer than ${t.spatialResolutionMetres} m.`);
  }
  if (t.temporalResolution !== null) {
    out.push(`Times are no finer than ${t.temporalResolution}.`);
  }
  if (t.attribution) out.push('You must credit the publisher.');
  if (t.deleteAfter) out.push(`You must delete the data within ${t.deleteAfter}.`);
  if ((policy.prohibition ?? []).some((r) => r.action === 'distribute')) {
    out.push('You may not pass the data on to others.');
  }
  return out;
}
