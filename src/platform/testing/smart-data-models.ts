/**
 * The Smart Data Models examples in ../shared/fixtures (next to the repository), read for
 * tests: the NGSI-LD API test, MQTT ingestion and the fuzz seeds all use the same files.
 * Without the fixtures the list is empty and those tests have nothing to run.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const fixtures = fileURLToPath(
  new URL('../../../../shared/fixtures/smart-data-models/', import.meta.url),
);

export interface SmartDataModelExample {
  /** `<repository>/<model>/<file name>` */
  file: string;
  /** The file as it is (some fixtures are not even valid JSON). */
  text: string;
  /** The parsed document, or null when the file is not JSON. */
  body: Record<string, unknown> | null;
}

/** Examples named `names` in every model folder, in a stable order. */
export function smartDataModelExamples(
  names: readonly string[] = ['example-normalized.jsonld', 'example.jsonld'],
): SmartDataModelExample[] {
  const out: SmartDataModelExample[] = [];
  if (!existsSync(fixtures)) return out;
  for (const repo of readdirSync(fixtures).sort()) {
    if (repo.includes('.')) continue;
    for (const model of readdirSync(path.join(fixtures, repo)).sort()) {
      for (const name of names) {
        const file = `${repo}/${model}/${name}`;
        const full = path.join(fixtures, file);
        if (!existsSync(full)) continue;
        const text = readFileSync(full, 'utf8');
        let body: Record<string, unknown> | null = null;
        try {
          body = JSON.parse(text) as Record<string, unknown>;
        } catch {
          body = null;
        }
        out.push({ file, text, body });
      }
    }
  }
  return out;
}

/** Examples that are not valid NGSI-LD, with the reason. */
export const INVALID_SMART_DATA_MODEL_EXAMPLES: Readonly<Record<string, string>> = {
  'Environment/FloodMonitoring/example-normalized.jsonld': 'attribute types "string"',
  'Environment/NightSkyQuality/example-normalized.jsonld': 'id is not a URI',
  'Environment/NightSkyQuality/example.jsonld': 'id is not a URI',
  'Environment/PhreaticObserved/example-normalized.jsonld': 'bad observedAt, names with spaces',
  'Environment/WaterObserved/example-normalized.jsonld': 'Relationship object is not a URI',
  'Transportation/AnprFlowObserved/example.jsonld': 'latitude 168',
  'Transportation/CityWork/example-normalized.jsonld': 'attribute type "Property "',
  'Transportation/EVChargingStation/example.jsonld': '@context entry is not a URL',
  'Transportation/RestrictionException/example-normalized.jsonld': 'attribute types "string"',
  'Transportation/RoadAccident/example.jsonld': 'latitude 168',
  'Transportation/SpecialRestriction/example-normalized.jsonld': 'attribute types "string"',
  'Transportation/TransportStation/example-normalized.jsonld': 'attribute types "DateTime"',
  'Transportation/TransportStation/example.jsonld': 'attribute name with a space',
  'UrbanMobility/TransitManagement/example.jsonld': '@context entry is not a URL',
  'Weather/WeatherAlert/example.jsonld': 'id is not a URI',
  'Weather/WeatherForecast/example-normalized.jsonld': 'id is not a URI',
  'Weather/WeatherForecast/example.jsonld': 'id is not a URI',
};
