// A customer's live connection: signs a customer JWT from the CUSTOMER_* variables (token.ts, the
// seed's example), connects to the platform's Socket.IO endpoint and prints every `inAppMessage` as
// one JSON line on stdout. Connection news goes to stderr, so stdout stays one message per line.
import { io } from 'socket.io-client';
import { signCustomerToken } from './token';

const platformUrl = process.env.PLATFORM_URL;
if (!platformUrl) {
  console.error('Set PLATFORM_URL (e.g. http://127.0.0.1:8000) and the CUSTOMER_* variables.');
  process.exit(2);
}

const socket = io(platformUrl, {
  path: '/api/v1/wss/socket.io',
  transports: ['websocket'], // required: the server speaks WebSocket only and refuses long-polling
  // A function, not a value: it runs on every (re)connect, so each one carries a fresh token.
  auth: (send) => send({ token: `Bearer ${signCustomerToken()}` }),
});

socket.on('connect', () => console.error(`connected ${socket.id}`));

socket.on('inAppMessage', (message: unknown) => console.log(JSON.stringify(message)));

socket.on('sessionEnded', (data: { reason: string; message: string }) => {
  console.error(`session ended (${data.reason}): ${data.message}`);
});

socket.on('disconnect', (reason) => {
  console.error(`disconnected: ${reason}`);
  // The server ends a session when its token expires; socket.io-client does not reconnect after a
  // server disconnect by itself. Reconnecting signs a new token (auth above).
  if (reason === 'io server disconnect') socket.connect();
});

socket.on('connect_error', (error: Error & { data?: { reason?: string } }) => {
  if (socket.active) {
    // The server could not be reached: socket.io-client retries with its backoff.
    console.error(`cannot connect yet: ${error.message}`);
    return;
  }
  // The server refused the token (error.data.reason, docs/live-delivery.md): retrying cannot help.
  console.error(`refused (${error.data?.reason ?? 'unknown'}): ${error.message}`);
  process.exit(1);
});

const stop = () => {
  socket.close();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
