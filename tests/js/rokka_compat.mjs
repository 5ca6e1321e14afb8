// Drives the real `rokka` npm client (4.0.0) against our API and prints what it saw as one JSON line.
// Env: API_HOST (http://127.0.0.1:PORT/api/v1), API_KEY (a 64-char key of a fresh API user),
// LOCAL_ADDRESS (optional source address, e.g. 127.0.0.7, so the server sees a known client IP).
import http from 'node:http';
import { Rokka } from 'rokka';

const apiHost = process.env.API_HOST;
const apiKey = process.env.API_KEY;
const agent = process.env.LOCAL_ADDRESS ? new http.Agent({ localAddress: process.env.LOCAL_ADDRESS }) : undefined;
// No retries: nothing here should be throttled, and a failure should show at once.
const transport = { agent, retries: 0 };
const out = {};

const failure = async (promise) => {
  try {
    await promise;
    return null;
  } catch (e) {
    return { status: e.statusCode ?? e.status ?? null, body: e.body ?? e.error ?? String(e) };
  }
};

// 1. API key only.
const byKey = new Rokka({ apiHost, apiKey, transport });
out.current = (await byKey.user.getCurrentApiKey()).body;
out.userId = await byKey.user.getId();
const added = await byKey.user.addApiKey('added by rokka');
out.added = { status: added.statusCode, body: added.body };
out.listed = (await byKey.user.listApiKeys()).body;

// 2. A token through getNewToken with options, stored by the callbacks.
let stored = null;
const tokenClient = new Rokka({
  apiHost,
  apiKey,
  transport,
  apiTokenGetCallback: () => stored,
  apiTokenSetCallback: (token) => { stored = token; },
});
const tokenResponse = await tokenClient.user.getNewToken(apiKey, {
  expires_in: 7200, renewable: true, ips: 'request_ip,192.0.2.0/24',
});
out.newToken = tokenResponse.body;
out.storedIsReturned = stored === tokenResponse.body.token;

// 3. A client that has no API key at all: authenticated only by the stored token.
const tokenOnly = new Rokka({
  apiHost,
  transport,
  apiTokenGetCallback: () => stored,
  apiTokenSetCallback: (token) => { stored = token; },
});
out.currentByToken = (await tokenOnly.user.getCurrentApiKey()).body;
out.userByToken = (await tokenOnly.user.get()).body;

// 4. Automatic renewal: a token within apiTokenRefreshTime of expiry is renewed with itself (no key).
let shortLived = null;
let sets = 0;
const keep = (t) => { shortLived = t; sets += 1; };
const minting = new Rokka({ apiHost, apiKey, transport, apiTokenGetCallback: () => shortLived, apiTokenSetCallback: keep });
await minting.user.getNewToken(apiKey, { expires_in: 600 });
const renewing = new Rokka({ apiHost, transport, apiTokenGetCallback: () => shortLived, apiTokenSetCallback: keep });
out.listedAfterRenewal = (await renewing.user.listApiKeys()).body.length;
out.renewal = {
  tokenSets: sets,  // 1 by getNewToken, 1 more by the automatic renewal
  payload: shortLived ? JSON.parse(Buffer.from(shortLived.split('.')[1], 'base64url').toString()) : null,
};

// 5. Delete the added key; its own client is then refused (403, invalid_authentication).
const deleted = await byKey.user.deleteApiKey(added.body.id);
out.deleted = { status: deleted.statusCode, body: deleted.body };
out.listedAfterDelete = (await byKey.user.listApiKeys()).body;
const byDeletedKey = new Rokka({ apiHost, apiKey: added.body.api_key, transport });
out.deletedKeyRefused = await failure(byDeletedKey.user.getCurrentApiKey());

// 6. A token minted from a key that is then deleted: 401 and the client clears its stored token.
let doomed = null;
const secondKey = (await byKey.user.addApiKey('second')).body;
const fromSecond = new Rokka({ apiHost, apiKey: secondKey.api_key, transport,
  apiTokenGetCallback: () => doomed, apiTokenSetCallback: (t) => { doomed = t; } });
await fromSecond.user.getNewToken(secondKey.api_key, { expires_in: 7200 });
await byKey.user.deleteApiKey(secondKey.id);
const doomedOnly = new Rokka({ apiHost, transport,
  apiTokenGetCallback: () => doomed, apiTokenSetCallback: (t) => { doomed = t; } });
out.tokenOfDeletedKey = await failure(doomedOnly.user.getCurrentApiKey());
out.tokenClearedAfter401 = doomed === '';

console.log(JSON.stringify(out));
