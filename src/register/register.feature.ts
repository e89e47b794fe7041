import type { Feature } from '../platform/http/server.js';
import { registerRoutes } from './register.routes.js';
import { RegisterService } from './register.service.js';

/** Technology in public space and algorithm registers. */
export const registerFeature: Feature = {
  name: 'register',
  register(app, platform) {
    registerRoutes(app, new RegisterService(platform.db, platform.clock));
  },
};
