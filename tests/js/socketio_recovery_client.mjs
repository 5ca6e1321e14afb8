// socket.io-client reconnecting and recovering its session (connection state recovery), driven by
// tests/live_delivery/test_recovery.py.
//
// Input (environment):
//   CUSTOMER_*            the seed's variables; tokens are signed from them as the seed's example does
//   CUSTOMER_JWT_EXPIRES_IN  token lifetime (the seed's own variable), e.g. "20s"
//   SERVER_URL            the server (or a proxy in front of several)
//   AUTH                  "function" (default): `auth` is a function, called on every (re)connect for a
//                         freshly signed token -- the pattern docs/live-delivery.md documents;
//                         "fixed": `auth` is one object holding a token signed once at start
//   MAX_SECONDS           hard stop, default 120
// Input (stdin), one command per line:
//   drop                  socket.io.engine.close(): the transport closes as on a network change
//   exit                  close and stop
// Output (stdout): one line per event, `@@ {"event": ..., ...}`: connect (id, recovered), inAppMessage
// (message, offset), unreadCount / counts / inboxUpdated (data, offset), sessionEnded, disconnect
// (reason), connect_error (message, data), reconnect_attempt, token (a token was signed), timeout.
import { createInterface } from 'node:readline';
import { io } from 'socket.io-client';
import { signSeedToken } from './seed_example.mjs';

const report = (record) => console.log('@@ ' + JSON.stringify(record));
const sign = () => {
  const token = signSeedToken();
  report({ event: 'token' });
  return token;
};

const fixed = process.env.AUTH === 'fixed' ? { token: `Bearer ${sign()}` } : null;
const socket = io(process.env.SERVER_URL, {
  path: '/api/v1/wss/socket.io',
  transports: ['websocket'],
  auth: fixed ?? ((cb) => cb({ token: `Bearer ${sign()}` })),
  reconnectionDelay: 200,
  reconnectionDelayMax: 1000,
});

// The offset is the events' last argument; socket.io-client keeps it for the next CONNECT by itself.
socket.on('connect', () => report({ event: 'connect', id: socket.id, recovered: socket.recovered }));
socket.on('inAppMessage', (message, offset) => report({ event: 'inAppMessage', message, offset }));
socket.on('unreadCount', (data, offset) => report({ event: 'unreadCount', data, offset }));
socket.on('counts', (data, offset) => report({ event: 'counts', data, offset }));
socket.on('inboxUpdated', (data, offset) => report({ event: 'inboxUpdated', data, offset }));
socket.on('sessionEnded', (data) => report({ event: 'sessionEnded', data }));
socket.on('connect_error', (error) => report({ event: 'connect_error', message: error.message, data: error.data ?? null }));
socket.on('disconnect', (reason) => report({ event: 'disconnect', reason }));
socket.io.on('reconnect_attempt', (attempt) => report({ event: 'reconnect_attempt', attempt }));

const stop = () => {
  socket.close();
  process.exit(0);
};
createInterface({ input: process.stdin }).on('line', (line) => {
  if (line === 'drop') socket.io.engine.close();
  if (line === 'exit') stop();
});
process.stdin.on('end', stop);
setTimeout(() => {
  report({ event: 'timeout' });
  stop();
}, Number(process.env.MAX_SECONDS || 120) * 1000);
