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

  // --- Commands: a WebSocket without subprotocol, JSON requests with ids ---
  let cmd = null;
  let nextId = 1;
  const pending = new Map();  // id -> {command, t0}
  const queued = [];          // requests typed while (re)connecting

  function connectCommands() {
    cmd = new WebSocket(wsUrl);
    cmd.onopen = () => {
      setPill('st-cmd', true);
      log('commands: connected to ' + wsUrl);
      while (queued.length) cmd.send(queued.shift());
    };
    cmd.onclose = () => {
      setPill('st-cmd', false);
      for (const [id, p] of pending) line('responses', `#${id} ${p.command}: connection closed`, 'err');
      pending.clear();
      log('commands: disconnected; retrying in 2 s', 'err');
      setTimeout(connectCommands, 2000);
    };
    cmd.onmessage = (ev) => {
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
    const client = new StompJs.Client({
      brokerURL: wsUrl,
      connectHeaders: { host: location.hostname },
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
  }

  // --- MQTT over WebSocket (subprotocol mqtt), 3.1.1 ---
  function connectMqtt() {
    if (typeof mqtt === 'undefined') {
      log('MQTT: mqtt.js not found under /node_modules: run tools/setup', 'err');
      setPill('st-mqtt', false);
      return;
    }
    const client = mqtt.connect(wsUrl, {
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
  }

  log('page loaded from ' + location.origin);
  connectCommands();
  connectStomp();
  connectMqtt();
})();
