/**
 * A synthetic city in Smart Data Models shapes: air quality stations, traffic flow
 * sensors, parking spots, streetlights and waste containers spread over a 20 × 20 km
 * area, as NGSI-LD normalized entities with the core context.
 */
export const CORE_CONTEXT = 'https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.9.jsonld';
const SDM = 'https://smart-data-models.github.io/data-models/context.jsonld';

export const kinds = [
  'AirQualityObserved',
  'TrafficFlowObserved',
  'ParkingSpot',
  'Streetlight',
  'WasteContainer',
] as const;
export type Kind = (typeof kinds)[number];

/** City centre (Montréal) and a deterministic pseudo-random generator. */
const CENTRE = { lon: -73.5673, lat: 45.5017 };
export function rng(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4294967296;
  };
}

export function position(random: () => number): [number, number] {
  // ±10 km: 1° latitude ≈ 111 km; 1° longitude ≈ 78 km at 45.5°N.
  return [CENTRE.lon + (random() - 0.5) * (20 / 78), CENTRE.lat + (random() - 0.5) * (20 / 111)];
}

/** Three attributes per entity, as in the batch-upsert scenario, plus a location. */
export function entity(kind: Kind, n: number, random: () => number, observedAt: string) {
  const id = `urn:ngsi-ld:${kind}:bench-${n}`;
  const location = { type: 'GeoProperty', value: { type: 'Point', coordinates: position(random) } };
  const p = (value: unknown, unitCode?: string) => ({
    type: 'Property',
    value,
    observedAt,
    ...(unitCode ? { unitCode } : {}),
  });
  switch (kind) {
    case 'AirQualityObserved':
      return {
        id,
        type: kind,
        NO2: p(Math.round(random() * 800) / 10, 'GQ'),
        temperature: p(Math.round(random() * 400 - 100) / 10, 'CEL'),
        reliability: p(Math.round(random() * 100) / 100),
        location,
      };
    case 'TrafficFlowObserved':
      return {
        id,
        type: kind,
        intensity: p(Math.round(random() * 2000)),
        averageVehicleSpeed: p(Math.round(random() * 900) / 10, 'KMH'),
        occupancy: p(Math.round(random() * 100) / 100),
        location,
      };
    case 'ParkingSpot':
      return {
        id,
        type: kind,
        status: p(random() < 0.5 ? 'free' : 'occupied'),
        category: p(['onStreet', 'offStreet'][n % 2]),
        name: p(`Spot ${n}`),
        location,
      };
    case 'Streetlight':
      return {
        id,
        type: kind,
        powerState: p(random() < 0.9 ? 'on' : 'off'),
        illuminanceLevel: p(Math.round(random() * 100) / 100),
        status: p(random() < 0.97 ? 'ok' : 'defectiveLamp'),
        location,
      };
    case 'WasteContainer':
      return {
        id,
        type: kind,
        fillingLevel: p(Math.round(random() * 100) / 100),
        temperature: p(Math.round(random() * 300) / 10, 'CEL'),
        status: p(random() < 0.95 ? 'ok' : 'burning'),
        location,
      };
  }
}

export const contextLink = `<${CORE_CONTEXT}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"`;
export const sdmContext = SDM;
