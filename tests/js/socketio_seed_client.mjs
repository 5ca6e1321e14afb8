// The first seed document's JavaScript client, run against our server by tests/live_delivery/test_socketio*.py.
//
// Input (environment):
//   CUSTOMER_*       the seed's variables (the block `manage.py createsigningkey` prints); the token is
//                    signed from them exactly as the seed's example does (jsonwebtoken, RS256)
//   SERVER_URL       replaces the seed's 'http://localhost:3000' (the only change to the example)
//   MAX_SECONDS      optional hard stop, default 30
// Output (stdout): the seed's own console.log lines, and one line per event for the test harness:
//   @@ {"event": "connect" | "inAppMessage" | "unreadCount" | "sessionEnded" | "connect_error" |
//       "disconnect" | "timeout", ...}
// The script runs until its stdin closes (the test closes it) or MAX_SECONDS pass.
import { io } from 'socket.io-client';
// The seed's token example, signed from the CUSTOMER_* variables (seed_example.mjs).
import { signSeedToken } from './seed_example.mjs';

const token = signSeedToken();

const SERVER_URL = process.env.SERVER_URL;
const report = (record) => console.log('@@ ' + JSON.stringify(record));

// --- the seed's WebSocket example, unchanged except for the URL ---
const socket = io(SERVER_URL, {
  path: '/api/v1/wss/socket.io',
  transports: ['websocket'],
  auth: {
    token: `Bearer ${token}`
  }
});

socket.on('connect', () => {
  console.log('Connected:', socket.id);
});

socket.on('inAppMessage', (message) => {
  console.log('Received in-app message:', message);
});

socket.on('connect_error', (error) => {
  console.error('WebSocket connection failed:', error.message);
});

socket.on('disconnect', (reason) => {
  console.log('Disconnected:', reason);
});
// --- end of the seed's example ---

// The harness's own listeners (Socket.IO allows several per event).
socket.on('connect', () => report({ event: 'connect', id: socket.id }));
socket.on('inAppMessage', (message) => report({ event: 'inAppMessage', message }));
socket.on('unreadCount', (data) => report({ event: 'unreadCount', data }));
socket.on('sessionEnded', (data) => report({ event: 'sessionEnded', data }));
socket.on('connect_error', (error) => report({ event: 'connect_error', message: error.message, data: error.data ?? null }));
socket.on('disconnect', (reason) => report({ event: 'disconnect', reason }));

const stop = () => {
  socket.close();
  process.exit(0);
};
process.stdin.on('end', stop);
process.stdin.resume();
setTimeout(() => {
  report({ event: 'timeout' });
  stop();
}, Number(process.env.MAX_SECONDS || 30) * 1000);
