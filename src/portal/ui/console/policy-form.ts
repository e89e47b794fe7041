/**
 * The policy part of the steward's dataset form: plain controls for the node's ODRL
 * profile (purposes, commercial use, date window, requests per day, resolution,
 * prohibitions, duties), turned into an ODRL policy, with the plain-language rendering
 * shown live. The rendering is the node's own (POST /api/v1/policies/describe, the same
 * words the catalog shows), so the form never says something the node would not.
 */
import { html, type TemplateResult } from 'lit-html';
import { t } from '../context.js';
import { checked, renderInto, send, value } from './form.js';

const ODRL = 'http://www.w3.org/ns/odrl.jsonld';

export interface Purpose {
  id: string;
  label: string;
}

interface Constraint {
  leftOperand: string;
  operator: string;
  rightOperand: unknown;
  unit?: string;
}
interface Rule {
  action: string;
  constraint?: Constraint[];
  duty?: Rule[];
}
interface Policy {
  '@context': string;
  '@type': string;
  permission?: Rule[];
  prohibition?: Rule[];
}

/** What the form shows, read back from a stored policy (for editing). */
interface Fields {
  purposes: string[];
  commercial: boolean;
  from: string;
  until: string;
  countPerDay: string;
  spatial: string;
  temporal: string;
  noDistribute: boolean;
  attribute: boolean;
  deleteWithin: string;
}

function fieldsOf(policy: Policy | null): Fields {
  const f: Fields = {
    purposes: [],
    commercial: true,
    from: '',
    until: '',
    countPerDay: '',
    spatial: '',
    temporal: '',
    noDistribute: false,
    attribute: false,
    deleteWithin: '',
  };
  for (const rule of policy?.permission ?? []) {
    for (const c of rule.constraint ?? []) {
      const v = c.rightOperand;
      if (c.leftOperand === 'purpose') f.purposes.push(...(Array.isArray(v) ? v : [v]).map(String));
      else if (c.leftOperand === 'dateTime') {
        const day = String(v).slice(0, 10);
        if (c.operator.startsWith('g')) f.from = day;
        else f.until = day;
      } else if (c.leftOperand === 'count') f.countPerDay = String(v);
      else if (c.leftOperand === 'ocp:spatialResolution') f.spatial = String(v);
      else if (c.leftOperand === 'ocp:temporalResolution') f.temporal = String(v);
    }
    for (const d of rule.duty ?? []) {
      if (d.action === 'attribute') f.attribute = true;
      if (d.action === 'delete') f.deleteWithin = String(d.constraint?.[0]?.rightOperand ?? '');
    }
  }
  for (const rule of policy?.prohibition ?? []) {
    if (rule.action === 'commercialize') f.commercial = false;
    if (rule.action === 'distribute') f.noDistribute = true;
  }
  return f;
}

/** The ODRL policy the form describes. */
export function policyFromForm(form: HTMLFormElement): Policy {
  const purposes = [...form.querySelectorAll<HTMLInputElement>('input[name=purpose]:checked')].map(
    (i) => i.value,
  );
  const constraint: Constraint[] = [];
  if (purposes.length) {
    constraint.push({ leftOperand: 'purpose', operator: 'isAnyOf', rightOperand: purposes });
  }
  const from = value(form, 'from');
  const until = value(form, 'until');
  if (from) {
    constraint.push({
      leftOperand: 'dateTime',
      operator: 'gteq',
      rightOperand: `${from}T00:00:00Z`,
    });
  }
  if (until) {
    constraint.push({
      leftOperand: 'dateTime',
      operator: 'lteq',
      rightOperand: `${until}T23:59:59Z`,
    });
  }
  const count = value(form, 'countPerDay');
  if (count) {
    constraint.push({
      leftOperand: 'count',
      operator: 'lteq',
      rightOperand: Number(count),
      unit: 'perDay',
    });
  }
  const spatial = value(form, 'spatial');
  if (spatial) {
    constraint.push({
      leftOperand: 'ocp:spatialResolution',
      operator: 'gteq',
      rightOperand: Number(spatial),
    });
  }
  const temporal = value(form, 'temporal');
  if (temporal) {
    constraint.push({
      leftOperand: 'ocp:temporalResolution',
      operator: 'gteq',
      rightOperand: temporal,
    });
  }
  const duty: Rule[] = [];
  if (checked(form, 'attribute')) duty.push({ action: 'attribute' });
  const deleteWithin = value(form, 'deleteWithin');
  if (deleteWithin) {
    duty.push({
      action: 'delete',
      constraint: [{ leftOperand: 'elapsedTime', operator: 'lteq', rightOperand: deleteWithin }],
    });
  }
  const prohibition: Rule[] = [];
  if (!checked(form, 'commercial')) prohibition.push({ action: 'commercialize' });
  if (checked(form, 'noDistribute')) prohibition.push({ action: 'distribute' });
  return {
    '@context': ODRL,
    '@type': 'Set',
    permission: [
      {
        action: 'use',
        ...(constraint.length ? { constraint } : {}),
        ...(duty.length ? { duty } : {}),
      },
    ],
    ...(prohibition.length ? { prohibition } : {}),
  };
}

let previewSeq = 0;
/** Asks the node for the rendering of the policy as it stands; only the latest answer shows. */
export async function refreshPreview(form: HTMLFormElement): Promise<void> {
  const seq = ++previewSeq;
  const answer = await send<{
    valid: boolean;
    policyText: string[];
    errors: { path: string; message: string }[];
  }>('POST', '/api/v1/policies/describe', { policy: policyFromForm(form) }).catch(() => null);
  if (seq !== previewSeq) return;
  renderInto(
    'policy-preview',
    !answer
      ? html`<p class="bad">${t('failed')}</p>`
      : answer.valid
        ? html`<ul data-valid="true">
            ${answer.policyText.map((line) => html`<li lang="en">${line}</li>`)}
          </ul>`
        : html`<ul class="bad" data-valid="false">
            ${answer.errors.map((e) => html`<li lang="en">${e.path}: ${e.message}</li>`)}
          </ul>`,
  );
}

export function policyFieldset(purposes: Purpose[], policy: Policy | null): TemplateResult {
  const f = fieldsOf(policy);
  return html`<fieldset class="policy">
    <legend>${t('policy')}</legend>
    <fieldset>
      <legend>${t('pfPurposes')}</legend>
      <p class="muted" id="pf-purposes-help">${t('pfPurposesHelp')}</p>
      ${purposes.map(
        (p) =>
          html`<label class="check"
            ><input
              type="checkbox"
              name="purpose"
              value=${p.id}
              ?checked=${f.purposes.includes(p.id)}
              aria-describedby="pf-purposes-help"
            />
            ${p.label} <span class="muted">(${p.id})</span></label
          >`,
      )}
    </fieldset>
    <label class="check"
      ><input type="checkbox" name="commercial" ?checked=${f.commercial} />
      ${t('pfCommercial')}</label
    >
    <div class="pair">
      <div>
        <label for="pf-from">${t('pfFrom')}</label>
        <input id="pf-from" name="from" type="date" .value=${f.from} />
      </div>
      <div>
        <label for="pf-until">${t('pfUntil')}</label>
        <input id="pf-until" name="until" type="date" .value=${f.until} />
      </div>
    </div>
    <label for="pf-count">${t('pfCount')}</label>
    <input
      id="pf-count"
      name="countPerDay"
      type="number"
      min="1"
      step="1"
      .value=${f.countPerDay}
    />
    <div class="pair">
      <div>
        <label for="pf-spatial">${t('pfSpatial')}</label>
        <input
          id="pf-spatial"
          name="spatial"
          type="number"
          min="1"
          step="any"
          .value=${f.spatial}
        />
      </div>
      <div>
        <label for="pf-temporal">${t('pfTemporal')}</label>
        <input
          id="pf-temporal"
          name="temporal"
          placeholder="PT1H"
          pattern="P.*"
          aria-describedby="pf-duration-help"
          .value=${f.temporal}
        />
      </div>
    </div>
    <p class="muted" id="pf-duration-help">${t('pfDurationHelp')}</p>
    <fieldset>
      <legend>${t('pfProhibitions')}</legend>
      <label class="check"
        ><input type="checkbox" name="noDistribute" ?checked=${f.noDistribute} />
        ${t('pfNoDistribute')}</label
      >
    </fieldset>
    <fieldset>
      <legend>${t('pfDuties')}</legend>
      <label class="check"
        ><input type="checkbox" name="attribute" ?checked=${f.attribute} />
        ${t('pfAttribute')}</label
      >
      <label for="pf-delete">${t('pfDelete')}</label>
      <input
        id="pf-delete"
        name="deleteWithin"
        placeholder="P90D"
        aria-describedby="pf-duration-help"
        .value=${f.deleteWithin}
      />
    </fieldset>
    <h3 id="policy-preview-heading">${t('pfPreview')}</h3>
    <div
      id="policy-preview"
      class="preview"
      aria-live="polite"
      aria-labelledby="policy-preview-heading"
    ></div>
  </fieldset>`;
}
