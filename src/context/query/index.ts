/**
 * NGSI-LD query compilers: `q` (clause 4.9), `scopeQ` (4.19) and geo-queries (4.10).
 * Parse at the edge (syntax errors are BadRequestData AppErrors), compile to SQL boolean
 * expressions over an `ngsi_entities` row with every value bound through `ctx.param`.
 */
export { parameterList, type CompileContext } from './compile-context.js';
export {
  parseQ,
  ENTITY_MEMBERS,
  INSTANCE_MEMBERS,
  type AttrPath,
  type CompareOp,
  type QExpr,
  type QValue,
} from './q.parser.js';
export { compileQ } from './q.compiler.js';
export { parseScopeQ, compileScopeQ, scopeRegex, type ScopeExpr } from './scope-q.js';
export {
  parseGeoQuery,
  compileGeoQuery,
  nearBox,
  EARTH_RADIUS_M,
  type GeoQuery,
  type GeoQueryParams,
  type GeoRelation,
  type GeometryType,
} from './geo.js';
