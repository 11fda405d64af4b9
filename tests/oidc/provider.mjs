// A real OpenID provider for the sign-in tests: the certified `oidc-provider` package on 127.0.0.1.
//
// Configuration is one JSON object in the environment variable OIDC_PROVIDER_CONFIG:
//   {"port": 0, "client": {"client_id": "...", "client_secret": "...", "redirect_uris": ["..."]},
//    "groups": {"ada": ["ml-admins"], "bob": ["ml-team"]}, "groups_file": "/optional/path.json"}
// With `groups_file`, the groups are read from that JSON file (same shape as "groups") at every
// sign-in instead, so a test can move a user between groups as a directory admin would.
// Port 0 (the default) lets the system pick a free port; the issuer is only built once the port is
// known, so parallel test workers never race for one. When listening it prints one line,
//   ready http://127.0.0.1:<port>
// and it exits when its standard input closes, so a test that dies never leaves it behind.
//
// Sign-in is the package's own development login and consent forms (devInteractions): any login
// name with any password is accepted, and becomes the subject.

import fs from 'node:fs';
import http from 'node:http';
import process from 'node:process';

import Provider from 'oidc-provider';

const config = JSON.parse(process.env.OIDC_PROVIDER_CONFIG ?? '{}');
function groupsOf(login) {
  const groups = config.groups_file ? JSON.parse(fs.readFileSync(config.groups_file, 'utf8')) : config.groups;
  return (groups ?? {})[login] ?? [];
}
const client = config.client;
if (!client?.client_id || !client?.client_secret || !Array.isArray(client?.redirect_uris)) {
  process.stderr.write('OIDC_PROVIDER_CONFIG needs client.client_id, client.client_secret, client.redirect_uris\n');
  process.exit(2);
}

function account(login) {
  return {
    accountId: login,
    async claims() {
      return {
        sub: login,
        preferred_username: login,
        email: `${login}@example.test`,
        email_verified: true,
        name: login.charAt(0).toUpperCase() + login.slice(1),
        groups: groupsOf(login),
      };
    },
  };
}

const server = http.createServer();
server.listen(Number(config.port ?? 0), '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients: [{
      client_id: client.client_id,
      client_secret: client.client_secret,
      redirect_uris: client.redirect_uris,
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['authorization_code'],
      response_types: ['code'],
    }],
    // Groups come with `profile`, as identity providers configured to send a groups claim do
    // (Entra ID, Okta), so a relying party with the default scopes still receives them.
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'preferred_username', 'groups'],
    },
    // The code flow would otherwise leave the scope claims to the userinfo endpoint; the relying
    // party under test reads them from the ID token.
    conformIdTokenClaims: false,
    findAccount: async (_ctx, sub) => account(sub),
    pkce: { required: () => true },
    features: { devInteractions: { enabled: true } },
    cookies: { keys: ['plimsoll-test-cookie-key-not-a-secret'] },
  });
  const callback = provider.callback();
  server.on('request', (req, res) => {
    if (req.url === '/favicon.ico') { // a browser asks for it; a 404 would be a console error
      res.writeHead(204).end();
      return;
    }
    callback(req, res);
  });
  process.stdout.write(`ready ${issuer}\n`);
});

process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => process.exit(0));
}
