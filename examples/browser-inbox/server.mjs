// The customer's backend for the browser inbox: serves the page, signs the customer JWT (the private
// key never leaves this process) and forwards the page's /api/v1/customer/* requests to the platform,
// so the page talks to one origin and the platform needs no CORS.
//
// Environment: PLATFORM_URL, the CUSTOMER_* block (`manage.py createsigningkey`), optional HOST
// (default 127.0.0.1) and PORT (default 3000).
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import jwt from 'jsonwebtoken';

const { PLATFORM_URL } = process.env;
const HOST = process.env.HOST || '127.0.0.1';
const PORT = Number(process.env.PORT || 3000);
if (!PLATFORM_URL || !process.env.CUSTOMER_JWT_PRIVATE_KEY) {
  console.error('Set PLATFORM_URL and the CUSTOMER_* variables (examples/browser-inbox/README.md).');
  process.exit(2);
}
const platform = new URL(PLATFORM_URL);

// The first seed document's signing example (JavaScript here; node-client/src/token.ts is the same).
function normalizePrivateKey(privateKey) {
  return privateKey.includes('\\n') ? privateKey.replace(/\\n/g, '\n') : privateKey;
}

function signCustomerToken() {
  // A real backend signs for the customer who is logged in to it; this example has one customer.
  return jwt.sign(
    {
      type: 'customer',
      workspace_id: process.env.CUSTOMER_WORKSPACE_ID,
      product_space_code: process.env.CUSTOMER_PRODUCT_SPACE_CODE,
    },
    normalizePrivateKey(process.env.CUSTOMER_JWT_PRIVATE_KEY || ''),
    {
      algorithm: 'RS256',
      keyid: process.env.CUSTOMER_SIGNING_KEY_ID,
      subject: process.env.CUSTOMER_UNIQUE_CUSTOMER_ID,
      expiresIn: process.env.CUSTOMER_JWT_EXPIRES_IN || '15m',
      jwtid: `customer-${process.env.CUSTOMER_UNIQUE_CUSTOMER_ID}-${Date.now()}`,
    },
  );
}

// socket.io-client's browser bundle, from node_modules: the page loads nothing from a CDN.
const require = createRequire(import.meta.url);
const here = (name) => fileURLToPath(new URL(name, import.meta.url));
const files = {
  '/': [here('public/index.html'), 'text/html; charset=utf-8'],
  '/inbox.js': [here('public/inbox.js'), 'text/javascript; charset=utf-8'],
  '/socket.io.js': [require.resolve('socket.io-client/dist/socket.io.js'), 'text/javascript; charset=utf-8'],
};

function send(res, status, type, body) {
  res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store' });
  res.end(body);
}

const pick = (headers, names) => Object.fromEntries(names.filter((n) => headers[n]).map((n) => [n, headers[n]]));

// The page's customer API calls, passed through as they are (its Authorization header included).
function forward(req, res) {
  const target = new URL(req.url, platform);
  const headers = pick(req.headers, ['authorization', 'content-type', 'content-length', 'accept']);
  // The browser's address; the platform believes it only if this backend is in its TRUSTED_PROXIES.
  headers['x-forwarded-for'] = req.socket.remoteAddress;
  const upstream = (target.protocol === 'https:' ? https : http).request(target, { method: req.method, headers }, (answer) => {
    res.writeHead(answer.statusCode, pick(answer.headers, ['content-type', 'content-length', 'www-authenticate', 'retry-after']));
    answer.pipe(res);
  });
  upstream.on('error', (error) => send(res, 502, 'application/json', JSON.stringify({ message: `platform unreachable: ${error.message}` })));
  req.pipe(upstream);
}

const server = http.createServer((req, res) => {
  const path = new URL(req.url, 'http://page').pathname;
  if (path.startsWith('/api/v1/customer/')) return forward(req, res);
  if (req.method !== 'GET') return send(res, 405, 'text/plain', 'method not allowed');
  if (path === '/session') {
    // What the page needs to connect: a fresh token, and where the platform's socket is.
    return send(res, 200, 'application/json', JSON.stringify({ token: signCustomerToken(), platformUrl: platform.origin }));
  }
  const file = files[path];
  if (!file) return send(res, 404, 'text/plain', 'not found');
  send(res, 200, file[1], readFileSync(file[0]));
});

server.listen(PORT, HOST, () => console.log(`inbox page on http://${HOST}:${server.address().port}/`));
