/**
 * Points on an SVG with no tile background, so the map works offline: an equirectangular
 * projection of the points' bounding box (longitude scaled by cos(latitude)).
 */
import { html, svg } from 'lit-html';
import { t } from './context.js';

export interface Point {
  lat: number;
  lon: number;
  label?: string;
}

export function pointMap(points: Point[]) {
  if (points.length === 0) return html``;
  const W = 600;
  const H = 360;
  const pad = 40;
  const lats = points.map((p) => p.lat);
  const lons = points.map((p) => p.lon);
  const midLat = (Math.min(...lats) + Math.max(...lats)) / 2;
  const k = Math.cos((midLat * Math.PI) / 180);
  const spanX = Math.max((Math.max(...lons) - Math.min(...lons)) * k, 0.002);
  const spanY = Math.max(Math.max(...lats) - Math.min(...lats), 0.002);
  const scale = Math.min((W - 2 * pad) / spanX, (H - 2 * pad) / spanY);
  const cx = (Math.min(...lons) + Math.max(...lons)) / 2;
  const cy = midLat;
  const x = (lon: number) => W / 2 + (lon - cx) * k * scale;
  const y = (lat: number) => H / 2 - (lat - cy) * scale;
  return html`<figure>
    <svg class="map" viewBox="0 0 ${W} ${H}" role="img" aria-label=${t('map')}>
      ${points.map(
        (p, i) => svg`<g><title>${p.label ?? `${p.lat}, ${p.lon}`}</title>
          <circle cx=${x(p.lon).toFixed(1)} cy=${y(p.lat).toFixed(1)} r="7"></circle>
          <text x=${(x(p.lon) + 10).toFixed(1)} y=${(y(p.lat) + 4).toFixed(1)}>${i + 1}</text></g>`,
      )}
    </svg>
    <figcaption class="muted">${t('mapNote')}</figcaption>
  </figure>`;
}
