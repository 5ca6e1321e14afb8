// The `rokka` npm client against the platform: mint an API token from an API key, then renew it with
// the token alone, as a process that was handed only the token would. Prints one JSON line per step
// with the token's payload (never the token or the key).
//
// Environment: PLATFORM_URL, API_KEY; optional TOKEN_EXPIRES_IN (seconds, default 86400).
import { Rokka } from 'rokka';

const { PLATFORM_URL, API_KEY } = process.env;
if (!PLATFORM_URL || !API_KEY) {
  console.error('Set PLATFORM_URL (e.g. http://127.0.0.1:8000) and API_KEY (examples/rokka-token/README.md).');
  process.exit(2);
}
// rokka builds each URL as [apiHost, path].join('/'): the platform's API root is its apiHost.
const apiHost = `${PLATFORM_URL.replace(/\/$/, '')}/api/v1`;
const expiresIn = Number(process.env.TOKEN_EXPIRES_IN || 86400);

// Where the token lives between calls; a real service would keep it in its own store.
let stored = null;
const tokenStore = {
  apiTokenGetCallback: () => stored,
  apiTokenSetCallback: (token) => { stored = token; },
};
const payload = () => JSON.parse(Buffer.from(stored.split('.')[1], 'base64url').toString());
const print = (step, extra = {}) => console.log(JSON.stringify({ step, ...extra }));

try {
  // 1. Mint: authenticated by the API key. `renewable: true` lets the token renew itself later.
  const withKey = new Rokka({ apiHost, apiKey: API_KEY, ...tokenStore });
  await withKey.user.getNewToken(API_KEY, { expires_in: expiresIn, renewable: true });
  print('minted', { payload: payload() });

  // 2. A client that holds only the token (no API key): calls authenticate with `Bearer <token>`.
  const withToken = new Rokka({ apiHost, ...tokenStore });
  const current = await withToken.user.getCurrentApiKey();
  print('authenticated', { api_key_id: current.body.id });

  // 3. Renew with the token itself: options left out are inherited from it (lifetime, ips, rn).
  // rokka also does this by itself before any call once the token is within apiTokenRefreshTime
  // (default 3600 s) of its expiry.
  await withToken.user.getNewToken();
  print('renewed', { payload: payload() });
} catch (error) {
  // rokka rejects with {statusCode, body} for an HTTP error; the body is the platform's error.
  console.error(`refused: ${error.statusCode ?? ''} ${JSON.stringify(error.body ?? error.message ?? error)}`);
  process.exit(1);
}
