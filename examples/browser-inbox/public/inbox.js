// The live inbox: the unread badge and the newest messages, kept current by the platform's Socket.IO
// events. REST calls go to this page's own origin (/api/v1/customer/…), which the example's server
// forwards to the platform; the socket connects to the platform itself.
(function () {
  const badge = document.getElementById('badge');
  const status = document.getElementById('status');
  const list = document.getElementById('messages');
  let token = null;

  // A fresh customer JWT from our backend, which holds the signing key.
  async function session() {
    const answer = await fetch('/session');
    if (!answer.ok) throw new Error(`session: ${answer.status}`);
    const body = await answer.json();
    token = body.token;
    return body;
  }

  async function api(path, options = {}, retried = false) {
    const answer = await fetch(`/api/v1/customer/${path}`, {
      ...options,
      headers: { Authorization: `Bearer ${token}`, Accept: 'application/json' },
    });
    if (answer.status === 401 && !retried) {
      await session(); // the token expired: sign a new one and try once more
      return api(path, options, true);
    }
    if (!answer.ok) throw new Error(`${path}: ${answer.status}`);
    return answer.json();
  }

  function setBadge(count) {
    badge.textContent = String(count);
    badge.dataset.count = String(count);
  }

  function element(tag, text) {
    const node = document.createElement(tag);
    node.textContent = text; // message text is never parsed as HTML
    return node;
  }

  function render(message) {
    const item = document.createElement('li');
    item.dataset.id = message.id;
    item.className = message.read ? 'read' : 'unread';
    item.append(element('h2', message.title), element('p', message.body));
    const when = element('time', new Date(message.created_at).toLocaleString());
    when.dateTime = message.created_at;
    item.append(when);
    if (!message.read) {
      const button = element('button', 'Mark read');
      button.addEventListener('click', async () => {
        button.disabled = true;
        show(await api(`inbox/${encodeURIComponent(message.id)}/read`, { method: 'POST' }));
        // The badge follows from the unreadCount event the platform sends after the change.
      });
      item.append(' ', button);
    }
    return item;
  }

  function show(message) {
    const existing = list.querySelector(`li[data-id="${CSS.escape(message.id)}"]`);
    if (existing) existing.replaceWith(render(message));
    else list.prepend(render(message));
  }

  // The inbox is the record; the socket only announces. Reload it on every (re)connect and count change.
  let reloads = 0;
  async function reload() {
    const mine = ++reloads;
    const [inbox, unread] = await Promise.all([api('inbox?limit=20'), api('inbox/unread-count')]);
    if (mine !== reloads) return; // a later reload started meanwhile: its answer is the newer one
    list.replaceChildren(...inbox.results.map(render));
    setBadge(unread.count);
  }

  session().then(({ platformUrl }) => {
    const socket = io(platformUrl, {
      path: '/api/v1/wss/socket.io',
      transports: ['websocket'], // required: the platform speaks WebSocket only
      // Called on every (re)connect: each connection gets a fresh token.
      auth: (send) => session().then(() => send({ token: `Bearer ${token}` })),
    });
    socket.on('connect', () => {
      status.textContent = 'live';
      reload();
    });
    socket.on('inAppMessage', show);
    socket.on('unreadCount', ({ count }) => {
      setBadge(count);
      reload(); // a message may have been read elsewhere (another tab, device or the API)
    });
    socket.on('disconnect', (reason) => {
      status.textContent = `offline (${reason})`;
      if (reason === 'io server disconnect') socket.connect(); // session ended: reconnect with a new token
    });
    socket.on('connect_error', (error) => {
      status.textContent = `cannot connect: ${(error.data && error.data.reason) || error.message}`;
    });
  }).catch((error) => { status.textContent = String(error); });
})();
