/** Where the built-in OpenID Provider is mounted; the node's authenticators stay out of it. */
export const PROVIDER_PATH = '/oidc';
