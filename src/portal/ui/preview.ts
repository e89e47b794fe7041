/**
 * The live preview of a dataset: a table of the sampled entities and, when they carry
 * Point locations, the offline map (map.ts). The sample comes from
 * /api/v1/catalog/datasets/{id}/preview, which reads through the same governed path as an
 * NGSI-LD query by the signed-in (or anonymous) visitor.
 */
import { html } from 'lit-html';
import { pointMap, type Point } from './map.js';
import { ct } from './preview-text.js';

export interface Preview {
  total: number;
  limit: number;
  entities: Record<string, unknown>[];
}

const MAX_COLUMNS = 8;

function cell(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'object') {
    const geo = value as { type?: string; coordinates?: unknown };
    if (geo.type === 'Point' && Array.isArray(geo.coordinates)) {
      const [lon, lat] = geo.coordinates as number[];
      return `${lat}, ${lon}`;
    }
    const text = JSON.stringify(value);
    return text.length > 80 ? `${text.slice(0, 79)}…` : text;
  }
  return String(value);
}

/** Point locations of the sample (the `location` GeoProperty, GeoJSON longitude first). */
export function pointsOf(entities: Record<string, unknown>[]): Point[] {
  const points: Point[] = [];
  for (const e of entities) {
    const loc = e.location as { type?: string; coordinates?: unknown } | undefined;
    if (loc?.type !== 'Point' || !Array.isArray(loc.coordinates)) continue;
    const [lon, lat] = loc.coordinates as number[];
    if (typeof lon === 'number' && typeof lat === 'number') {
      points.push({ lat, lon, label: String(e.id) });
    }
  }
  return points;
}

export function previewSection(p: Preview) {
  const columns = [
    ...new Set(p.entities.flatMap((e) => Object.keys(e).filter((k) => k !== 'id'))),
  ].slice(0, MAX_COLUMNS);
  const points = pointsOf(p.entities);
  // The map labels its points 1, 2, …; the table says which row is which point.
  const pin = new Map(points.map((point, i) => [point.label, i + 1]));
  return html`<section aria-labelledby="preview" class="preview">
    <h2 id="preview">${ct('preview')}</h2>
    ${
      p.entities.length === 0
        ? html`<p>${ct('previewNone')}</p>`
        : html`<p>${ct('previewIntro', { n: p.entities.length, total: p.total })}</p>
            <div class="table-wrap" tabindex="0" role="region" aria-labelledby="preview-caption">
              <table>
                <caption id="preview-caption">
                  ${ct('previewCaption')}
                </caption>
                <thead>
                  <tr>
                    <th scope="col">${ct('entity')}</th>
                    ${pin.size ? html`<th scope="col">${ct('onMap')}</th>` : ''}
                    ${columns.map((c) => html`<th scope="col">${c}</th>`)}
                  </tr>
                </thead>
                <tbody>
                  ${p.entities.map(
                    (e) =>
                      html`<tr>
                        <th scope="row">${cell(e.id)}</th>
                        ${pin.size ? html`<td class="pin">${pin.get(String(e.id)) ?? ''}</td>` : ''}
                        ${columns.map((c) => html`<td>${cell(e[c])}</td>`)}
                      </tr>`,
                  )}
                </tbody>
              </table>
            </div>
            ${
              points.length > 0
                ? html`<div class="preview-map" aria-label=${ct('previewMap')} role="group">
                    ${pointMap(points)}
                  </div>`
                : ''
            }`
    }
  </section>`;
}
