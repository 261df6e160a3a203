'use strict';
(() => {
  const MAX_LINES = 300;
  const wsUrl = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/';
  const $ = (id) => document.getElementById(id);

  function stamp() {
    const d = new Date();
    const p = (n, w = 2) => String(n).padStart(w, '0');
    return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
  }
  // Appends one timestamped line; `cls` colours it, `extra` goes on the right.
  function line(list, text, cls, extra) {
    const ul = $(list);
    const li = document.createElement('li');
    const t = document.createElement('time');
    t.textContent = stamp();
    li.appendChild(t);
    if (extra) {
      const r = document.createElement('span');
      r.className = 'rtt';
      r.textContent = extra;
      li.appendChild(r);
    }
    const s = document.createElement('span');
    if (cls) s.className = cls;
    s.textContent = text;
    li.appendChild(s);
    ul.appendChild(li);
    while (ul.children.length > MAX_LINES) ul.removeChild(ul.firstChild);
    ul.scrollTop = ul.scrollHeight;
  }
  const log = (text, cls) => line('log', text, cls);
  const setPill = (id, up) => { $(id).dataset.state = up ? 'up' : 'down'; };
  function setLed(payload) {
    const s = String(payload).trim();
    $('led').dataset.state = s === 'on' ? 'on' : s === 'off' ? 'off' : 'unknown';
  }

  // --- Credentials: used by all three connections; kept for this tab only ---
  // A password or a token (JWT) goes as the command login, the STOMP passcode
  // and the MQTT password alike; empty = anonymous.
  const creds = () => ({ username: sessionStorage.getItem('duplex-user') || '',
                         password: sessionStorage.getItem('duplex-pass') || '' });
  const reconnects = [];  // one function per connection: drop it and connect again
  function relogin() {
    const c = creds();
    $('login-state').textContent = c.username || c.password ? 'as ' + (c.username || '(token)') : 'anonymous';
    for (const r of [...reconnects]) r();  // a copy: each one replaces itself in the list
  }
  $('login-form').addEventListener('submit', (e) => {
    e.preventDefault();
    sessionStorage.setItem('duplex-user', $('login-user').value.trim());
    sessionStorage.setItem('duplex-pass', $('login-pass').value);
    $('login-pass').value = '';
    relogin();
  });
  $('logout').addEventListener('click', () => {
    sessionStorage.removeItem('duplex-user');
    sessionStorage.removeItem('duplex-pass');
    relogin();
  });

  // --- Commands: a WebSocket without subprotocol, JSON requests with ids ---
  let cmd = null;
  let nextId = 1;
  const pending = new Map();  // id -> {command, t0}
  const queued = [];          // requests typed while (re)connecting

  let retry = null;
  function connectCommands() {
    const ws = new WebSocket(wsUrl);
    cmd = ws;
    ws.onopen = () => {
      setPill('st-cmd', true);
      log('commands: connected to ' + wsUrl);
      const c = creds();
      if (c.username || c.password) {
        // The first message logs in (a token alone, or a username and password).
        const args = c.username ? { username: c.username, password: c.password } : c.password;
        const id = nextId++;
        pending.set(id, { command: 'login', t0: performance.now() });
        ws.send(JSON.stringify({ id, command: 'login', args }));
      }
      while (queued.length) ws.send(queued.shift());
    };
    ws.onclose = () => {
      if (cmd !== ws) return;  // replaced by a new login
      setPill('st-cmd', false);
      for (const [id, p] of pending) line('responses', `#${id} ${p.command}: connection closed`, 'err');
      pending.clear();
      log('commands: disconnected; retrying in 2 s', 'err');
      retry = setTimeout(connectCommands, 2000);
    };
    ws.onmessage = (ev) => {
      let r;
      try { r = JSON.parse(ev.data); } catch (e) { log('commands: not JSON: ' + ev.data, 'err'); return; }
      const p = pending.get(r.id);
      pending.delete(r.id);
      const rtt = p ? `${(performance.now() - p.t0).toFixed(1)} ms` : '';
      const name = p ? p.command : '?';
      if (r.ok) {
        const v = typeof r.result === 'string' ? r.result : JSON.stringify(r.result, null, 1);
        line('responses', `#${r.id} ${name} → ${v}`, 'ok', rtt);
      } else {
        line('responses', `#${r.id} ${name} → error: ${r.error}`, 'err', rtt);
      }
    };
  }

  reconnects.push(() => {
    clearTimeout(retry);
    const old = cmd;
    cmd = null;
    if (old) old.close();
    connectCommands();
  });

  // "name rest": rest is JSON if it parses, else a string.
  function send(text) {
    text = text.trim();
    if (!text) return;
    const sp = text.search(/\s/);
    const command = sp < 0 ? text : text.slice(0, sp);
    const rest = sp < 0 ? '' : text.slice(sp + 1).trim();
    let args = null;
    if (rest) { try { args = JSON.parse(rest); } catch (e) { args = rest; } }
    const id = nextId++;
    const req = JSON.stringify({ id, command, args });
    pending.set(id, { command, t0: performance.now() });
    log(`→ #${id} ${req}`);
    if (cmd && cmd.readyState === WebSocket.OPEN) cmd.send(req); else queued.push(req);
  }

  $('cmd-form').addEventListener('submit', (e) => {
    e.preventDefault();
    send($('cmd-input').value);
    $('cmd-input').select();
  });
  for (const b of document.querySelectorAll('button.quick')) b.addEventListener('click', () => send(b.dataset.cmd));

  // --- STOMP over WebSocket (subprotocol v12.stomp) ---
  function connectStomp() {
    if (typeof StompJs === 'undefined') {
      log('STOMP: @stomp/stompjs not found under /node_modules: run tools/setup', 'err');
      setPill('st-stomp', false);
      return;
    }
    const c = creds();
    const headers = { host: location.hostname };
    if (c.username) headers.login = c.username;
    if (c.password) headers.passcode = c.password;
    const client = new StompJs.Client({
      brokerURL: wsUrl,
      connectHeaders: headers,
      reconnectDelay: 2000,
      heartbeatIncoming: 10000,
      heartbeatOutgoing: 10000,
    });
    client.onConnect = () => {
      setPill('st-stomp', true);
      log('STOMP: connected, subscribing /topic/led/#');
      client.subscribe('/topic/led/#', (m) => {
        const dest = m.headers.destination || '';
        line('stomp', `${dest}  ${m.body}`);
        if (dest === '/topic/led/status') setLed(m.body);
      });
    };
    client.onStompError = (f) => log('STOMP error: ' + (f.headers.message || '') + ' ' + f.body, 'err');
    client.onWebSocketClose = () => setPill('st-stomp', false);
    client.activate();
    const again = () => { client.deactivate(); reconnects.splice(reconnects.indexOf(again), 1); connectStomp(); };
    reconnects.push(again);
  }

  // --- MQTT over WebSocket (subprotocol mqtt), 3.1.1 ---
  function connectMqtt() {
    if (typeof mqtt === 'undefined') {
      log('MQTT: mqtt.js not found under /node_modules: run tools/setup', 'err');
      setPill('st-mqtt', false);
      return;
    }
    const c = creds();
    const client = mqtt.connect(wsUrl, {
      ...(c.username ? { username: c.username } : {}),
      ...(c.password ? { password: c.password, username: c.username || 'token' } : {}),
      protocolVersion: 4,
      clientId: 'web-' + Math.random().toString(16).slice(2, 10),
      reconnectPeriod: 2000,
      keepalive: 30,
    });
    client.on('connect', () => {
      setPill('st-mqtt', true);
      log('MQTT: connected, subscribing led/#');
      client.subscribe('led/#', { qos: 1 }, (err) => { if (err) log('MQTT subscribe: ' + err.message, 'err'); });
    });
    client.on('message', (topic, payload, packet) => {
      const text = new TextDecoder().decode(payload);
      line('mqtt', `${topic}${packet.retain ? ' (retained)' : ''}  ${text}`);
      if (topic === 'led/status') setLed(text);
    });
    client.on('close', () => setPill('st-mqtt', false));
    client.on('error', (e) => log('MQTT: ' + e.message, 'err'));
    const again = () => { client.end(true); reconnects.splice(reconnects.indexOf(again), 1); connectMqtt(); };
    reconnects.push(again);
  }

  log('page loaded from ' + location.origin);
  $('login-user').value = creds().username;
  if (creds().username || creds().password) $('login-state').textContent = 'as ' + (creds().username || '(token)');
  connectCommands();
  connectStomp();
  connectMqtt();
})();
