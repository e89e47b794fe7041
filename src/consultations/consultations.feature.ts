import type { Feature } from '../platform/http/server.js';
import { consultationsRoutes } from './consultations.routes.js';
import { ConsultationsService } from './consultations.service.js';

/** Public consultations on technology deployments and data-sharing agreements. */
export const consultationsFeature: Feature = {
  name: 'consultations',
  register(app, platform) {
    consultationsRoutes(app, new ConsultationsService(platform.db, platform.clock));
  },
};
