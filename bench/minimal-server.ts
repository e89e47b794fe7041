/**
 * The HTTP baseline: the smallest Fastify handler that returns a JSON document of the
 * same size as an NGSI-LD entity. Run as its own process, like the node.
 */
import Fastify from 'fastify';

const body = JSON.stringify({
  id: 'urn:ngsi-ld:AirQualityObserved:bench-0',
  type: 'AirQualityObserved',
  NO2: { type: 'Property', value: 22.5, unitCode: 'GQ' },
  temperature: { type: 'Property', value: 12.1, unitCode: 'CEL' },
  location: { type: 'GeoProperty', value: { type: 'Point', coordinates: [-73.56, 45.5] } },
});
const app = Fastify({ logger: false });
app.get('/entity/:id', async (_request, reply) => reply.type('application/json').send(body));
await app.listen({ host: '127.0.0.1', port: 0 });
const address = app.server.address();
process.stdout.write(
  `listening http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}\n`,
);
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
