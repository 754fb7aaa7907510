// Peer server for the Gatehouse client_credentials throughput benchmark (issue 10).
// panva's oidc-provider issuing RS256 or ES256 JWT access tokens to one client.
//   PORT (default 3000), ALG = RS256 | ES256 (default RS256)
// Prints exactly one stdout line, `ready http://127.0.0.1:PORT`, once listening.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';

import Provider, { errors } from 'oidc-provider';

const PORT = Number.parseInt(process.env.PORT ?? '3000', 10);
const ALG = process.env.ALG ?? 'RS256';
if (!Number.isInteger(PORT) || PORT < 1 || PORT > 65535) {
  console.error(`invalid PORT: ${process.env.PORT}`);
  process.exit(2);
}
if (ALG !== 'RS256' && ALG !== 'ES256') {
  console.error(`invalid ALG: ${ALG} (expected RS256 or ES256)`);
  process.exit(2);
}

const ISSUER = `http://127.0.0.1:${PORT}`;
const RESOURCE = 'urn:bench:api';

// One fresh signing key per start, exported as a private JWK for the provider keystore.
const { privateKey } = ALG === 'RS256'
  ? generateKeyPairSync('rsa', { modulusLength: 2048 })
  : generateKeyPairSync('ec', { namedCurve: 'P-256' });
const signingJwk = {
  ...privateKey.export({ format: 'jwk' }),
  kid: `bench-${ALG.toLowerCase()}`,
  alg: ALG,
  use: 'sig',
};

const provider = new Provider(ISSUER, {
  // Default in-memory adapter on purpose (JWT access tokens are not stored anyway).
  jwks: { keys: [signingJwk] },
  clients: [{
    client_id: 'bench',
    client_secret: 'bench-secret-bench-secret',
    grant_types: ['client_credentials'],
    redirect_uris: [],
    response_types: [],
    token_endpoint_auth_method: 'client_secret_basic',
    scope: 'api',
  }],
  // Client metadata `scope` must only name provider-supported scopes.
  scopes: ['api'],
  // Clients default to RS256 ID tokens; with an EC-only keystore that would not resolve.
  clientDefaults: { id_token_signed_response_alg: ALG },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      // Called with no third argument when the token request names no `resource`.
      defaultResource: async (_ctx, _client, oneOf) => oneOf ?? RESOURCE,
      // Only consulted for grants derived from an earlier grant (code, refresh); harmless here.
      useGrantedResource: async () => true,
      getResourceServerInfo: async (_ctx, resourceIndicator) => {
        if (resourceIndicator !== RESOURCE) {
          throw new errors.InvalidTarget();
        }
        return {
          scope: 'api',
          accessTokenFormat: 'jwt',
          accessTokenTTL: 600,
          jwt: { sign: { alg: ALG } },
        };
      },
    },
  },
});
provider.proxy = false;

const server = createServer(provider.callback());
server.listen(PORT, '127.0.0.1', () => {
  process.stdout.write(`ready ${ISSUER}\n`);
});

let stopping = false;
function stop() {
  if (stopping) return;
  stopping = true;
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
