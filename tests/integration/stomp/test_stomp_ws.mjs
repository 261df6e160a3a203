// STOMP over WebSocket with @stomp/stompjs 7 (ws 8 as the WebSocket), frame
// reassembly over raw WebSocket messages, and STOMP <-> MQTT with mqtt.js
// (3.1.1 and 5) on the same WebSocket port. Starts its own broker
// (DUPLEX_BIN) on ephemeral loopback ports.
//
//   node --test tests/integration/stomp/test_stomp_ws.mjs
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { requirePeer } from "../peers.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, "..", "node", "package.json"));
const NODE_HINT = "npm install in tests/integration/node: tools/setup";
const { Client } = requirePeer(require, "@stomp/stompjs", NODE_HINT);
const WebSocket = requirePeer(require, "ws", NODE_HINT);
const mqtt = requirePeer(require, "mqtt", NODE_HINT);

for (const v of ["http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"]) delete process.env[v];

let broker;
const ports = {};

before(async () => {
  const bin = process.env.DUPLEX_BIN;
  assert.ok(bin, "DUPLEX_BIN is not set");
  broker = spawn(bin, ["--ws", "127.0.0.1:0", "--mqtt", "127.0.0.1:0", "--stomp", "127.0.0.1:0",
                       "--log-level", "debug"], { stdio: ["ignore", "pipe", "pipe"] });
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("broker did not start")), 10000);
    let text = "";
    const onData = (d) => {
      text += d.toString();
      if (process.env.DUPLEX_ECHO) process.stderr.write(d);
      for (const m of text.matchAll(/listening (\w+) 127\.0\.0\.1:(\d+)/g)) ports[m[1]] = Number(m[2]);
      if (ports.ws && ports.mqtt && ports.stomp) {
        clearTimeout(timer);
        resolve();
      }
    };
    broker.stdout.on("data", onData);
    broker.stderr.on("data", onData);
    broker.on("exit", (code) => reject(new Error(`broker exited ${code}: ${text}`)));
  });
});

after(async () => {
  if (!broker || broker.exitCode !== null) return;
  const done = new Promise((r) => broker.once("exit", r));
  broker.kill("SIGTERM");
  await done;
});

const wsUrl = () => `ws://127.0.0.1:${ports.ws}/`;

// A connected stompjs client; messages collected per subscription.
async function stompClient(opts = {}) {
  const client = new Client({
    webSocketFactory: () => new WebSocket(wsUrl(), ["v12.stomp", "v11.stomp", "v10.stomp"]),
    reconnectDelay: 0,
    heartbeatIncoming: 0,
    heartbeatOutgoing: 0,
    connectHeaders: { host: "localhost", login: "web", passcode: "x" },
    debug: () => {},
    ...opts,
  });
  const connected = new Promise((resolve, reject) => {
    client.onConnect = (frame) => resolve(frame);
    client.onStompError = (frame) => reject(new Error(frame.headers.message));
    client.onWebSocketError = (e) => reject(e);
  });
  client.activate();
  client.connectedFrame = await withTimeout(connected, 5000, "STOMP connect");
  return client;
}

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`timeout: ${what}`)), ms); }),
  ]);
}

// Collects messages of one subscription; next() waits for the next one.
function inbox() {
  const items = [];
  const waiters = [];
  return {
    push(m) { const w = waiters.shift(); if (w) w(m); else items.push(m); },
    next(ms = 3000) {
      if (items.length) return Promise.resolve(items.shift());
      return withTimeout(new Promise((r) => waiters.push(r)), ms, "message");
    },
    async none(ms = 400) {
      if (items.length) return false;
      await new Promise((r) => setTimeout(r, ms));
      return items.length === 0;
    },
  };
}

function subscribeWithReceipt(client, destination, box, headers = {}) {
  const receipt = `r-${Math.random()}`;
  const done = new Promise((r) => client.watchForReceipt(receipt, r));
  const sub = client.subscribe(destination, (m) => box.push(m), { ...headers, receipt });
  return withTimeout(done, 3000, "SUBSCRIBE receipt").then(() => sub);
}

function publishWithReceipt(client, params) {
  const receipt = `p-${Math.random()}`;
  const done = new Promise((r) => client.watchForReceipt(receipt, r));
  client.publish({ ...params, headers: { ...(params.headers || {}), receipt } });
  return withTimeout(done, 3000, "SEND receipt");
}

async function mqttClient(options = {}) {
  const c = mqtt.connect(wsUrl(), { reconnectPeriod: 0, connectTimeout: 5000, ...options });
  await withTimeout(new Promise((resolve, reject) => {
    c.once("connect", resolve);
    c.once("error", reject);
  }), 5000, "MQTT connect");
  return c;
}

test("stompjs connects over WebSocket with STOMP 1.2", async () => {
  const c = await stompClient();
  assert.equal(c.connectedFrame.headers.version, "1.2");
  await c.deactivate();
});

test("stompjs pub/sub with headers, text and binary bodies", async () => {
  const c = await stompClient();
  const box = inbox();
  await subscribeWithReceipt(c, "/topic/web/+", box);
  await publishWithReceipt(c, { destination: "/topic/web/a", body: "héllo", headers: { "content-type": "text/plain", "x-k": "v" } });
  let m = await box.next();
  assert.equal(m.body, "héllo");
  assert.equal(m.headers.destination, "/topic/web/a");
  assert.equal(m.headers["x-k"], "v");
  assert.equal(m.headers["content-length"], String(Buffer.byteLength("héllo")));
  const bin = new Uint8Array([0, 1, 2, 255, 0]);
  await publishWithReceipt(c, { destination: "/topic/web/b", binaryBody: bin });
  m = await box.next();
  assert.deepEqual(Array.from(m.binaryBody), Array.from(bin));
  await c.deactivate();
});

test("stompjs ack modes, nack and transactions", async () => {
  const p = await stompClient();
  for (let i = 0; i < 3; i++) await publishWithReceipt(p, { destination: "/queue/web-ack", body: `m${i}` });
  const c = await stompClient();
  const box = inbox();
  await subscribeWithReceipt(c, "/queue/web-ack", box, { ack: "client-individual" });
  const m0 = await box.next(), m1 = await box.next(), m2 = await box.next();
  assert.deepEqual([m0.body, m1.body, m2.body], ["m0", "m1", "m2"]);
  m0.ack();
  m1.nack();  // only consumer: comes back to us, marked redelivered
  const again = await box.next();
  assert.equal(again.body, "m1");
  assert.equal(again.headers.redelivered, "true");
  const tx = c.begin();
  again.ack({ transaction: tx.id });
  m2.ack({ transaction: tx.id });
  tx.commit();
  assert.ok(await box.none());

  // A transaction's SENDs appear only at COMMIT.
  const tbox = inbox();
  await subscribeWithReceipt(c, "/topic/web-tx", tbox);
  const t2 = p.begin();
  p.publish({ destination: "/topic/web-tx", body: "later", headers: { transaction: t2.id } });
  assert.ok(await tbox.none());
  t2.commit();
  assert.equal((await tbox.next()).body, "later");
  await c.deactivate();
  await p.deactivate();
});

test("stompjs heart-beats are negotiated and kept", async () => {
  const c = await stompClient({ heartbeatIncoming: 1000, heartbeatOutgoing: 1000 });
  assert.equal(c.connectedFrame.headers["heart-beat"], "1000,1000");
  await new Promise((r) => setTimeout(r, 3500));
  assert.ok(c.connected);
  await c.deactivate();
});

test("competing consumers over WebSocket share a queue", async () => {
  const a = await stompClient(), b = await stompClient();
  const ba = inbox(), bb = inbox();
  await subscribeWithReceipt(a, "/queue/web-work", ba);
  await subscribeWithReceipt(b, "/queue/web-work", bb);
  const p = await stompClient();
  for (let i = 0; i < 6; i++) await publishWithReceipt(p, { destination: "/queue/web-work", body: `j${i}` });
  const got = [];
  for (let i = 0; i < 3; i++) got.push((await ba.next()).body, (await bb.next()).body);
  assert.deepEqual(got.sort(), ["j0", "j1", "j2", "j3", "j4", "j5"]);
  assert.ok(await ba.none(200));
  assert.ok(await bb.none(200));
  await Promise.all([a.deactivate(), b.deactivate(), p.deactivate()]);
});

// Raw WebSocket: frames split across messages and several frames in one message.
test("frames are reassembled across WebSocket messages", async () => {
  const ws = new WebSocket(wsUrl(), ["v12.stomp"]);
  await new Promise((r, j) => { ws.once("open", r); ws.once("error", j); });
  const received = [];
  ws.on("message", (data, isBinary) => received.push({ text: data.toString("latin1"), isBinary }));
  const wait = async (pred, what) => {
    const deadline = Date.now() + 3000;
    while (Date.now() < deadline) {
      const hit = received.find(pred);
      if (hit) return hit;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`timeout: ${what}: ${JSON.stringify(received)}`);
  };
  const connect = "CONNECT\naccept-version:1.2\nhost:h\n\n\0";
  ws.send(connect.slice(0, 7));
  ws.send(connect.slice(7, 20));
  ws.send(Buffer.from(connect.slice(20)));  // binary message: fine too
  await wait((m) => m.text.startsWith("CONNECTED"), "CONNECTED");
  ws.send("SUBSCRIBE\nid:1\ndestination:/topic/raw\nreceipt:s\n\n\0SEND\ndestination:/topic/raw\n\nfirst\0SEND\ndestination:/topic/raw\ncontent-length:6\n\nsec");
  ws.send("ond\0\n");
  await wait((m) => m.text.includes("second"), "second MESSAGE");
  const messages = received.filter((m) => m.text.startsWith("MESSAGE"));
  assert.equal(messages.length, 2, "each frame in its own WebSocket message");
  assert.ok(messages[0].text.endsWith("first\0"));
  assert.equal(messages[0].isBinary, false, "UTF-8 frames go as text");
  ws.send(Buffer.concat([Buffer.from("SEND\ndestination:/topic/raw\ncontent-length:2\n\n"), Buffer.from([0xff, 0xfe]), Buffer.from([0])]));
  const bin = await wait((m) => m.isBinary, "binary MESSAGE");
  assert.ok(bin.text.startsWith("MESSAGE"));
  ws.close();
});

test("bad input over WebSocket: ERROR then close", async () => {
  const ws = new WebSocket(wsUrl(), ["v12.stomp"]);
  await new Promise((r, j) => { ws.once("open", r); ws.once("error", j); });
  const msgs = [];
  ws.on("message", (d) => msgs.push(d.toString()));
  const closed = new Promise((r) => ws.once("close", r));
  ws.send("SEND\ndestination:/topic/x\n\nbefore connect\0");
  await withTimeout(closed, 3000, "close after ERROR");
  assert.ok(msgs[0].startsWith("ERROR\n"), msgs[0]);
  assert.match(msgs[0], /message:expected CONNECT/);
});

test("MQTT 3.1.1 over WebSocket <-> STOMP: payload, topic, QoS", async () => {
  const s = await stompClient();
  const box = inbox();
  await subscribeWithReceipt(s, "/topic/x/led/status", box);
  const m = await mqttClient({ protocolVersion: 4 });
  await new Promise((r) => m.publish("x/led/status", "on", { qos: 1 }, r));
  const got = await box.next();
  assert.equal(got.body, "on");
  assert.equal(got.headers.persistent, "true");
  assert.equal(got.headers["content-length"], "2");

  const mbox = inbox();
  m.on("message", (topic, payload, packet) => mbox.push({ topic, payload, packet }));
  await new Promise((r) => m.subscribe("x/cmd/#", { qos: 1 }, r));
  s.publish({ destination: "/topic/x/cmd/led", body: "toggle", headers: { persistent: "true" } });
  const in1 = await mbox.next();
  assert.equal(in1.topic, "x/cmd/led");
  assert.equal(in1.payload.toString(), "toggle");
  assert.equal(in1.packet.qos, 1);
  await new Promise((r) => m.end(false, r));
  await s.deactivate();
});

// MQTT 5 properties <-> STOMP headers (the mapping table in docs/stomp.md).
test("MQTT 5 properties -> STOMP headers", { timeout: 10000 }, async () => {
  const s = await stompClient();
  try {
    const box = inbox();
    await subscribeWithReceipt(s, "/topic/v5/req", box);
    const m = await mqttClient({ protocolVersion: 5 });
    await new Promise((r) => m.publish("v5/req", "ping", {
      qos: 0,
      properties: {
        contentType: "text/plain",
        responseTopic: "v5/resp",
        correlationData: Buffer.from("c-42"),
        userProperties: { a: "1", b: "2" },
      },
    }, r));
    const got = await box.next();
    assert.equal(got.headers["content-type"], "text/plain");
    assert.equal(got.headers["reply-to"], "/topic/v5/resp");
    assert.equal(got.headers["correlation-id"], "c-42");
    assert.equal(got.headers.a, "1");
    assert.equal(got.headers.b, "2");
    m.end(true);
  } finally {
    await s.deactivate();
  }
});

test("STOMP headers -> MQTT 5 properties", { timeout: 10000 }, async () => {
  const s = await stompClient();
  const m = await mqttClient({ protocolVersion: 5 });
  try {
    const mbox = inbox();
    m.on("message", (topic, payload, packet) => mbox.push(packet));
    await new Promise((r) => m.subscribe("v5/in", { qos: 1 }, r));
    s.publish({ destination: "/topic/v5/in", body: "hi",
                headers: { "content-type": "text/plain", "reply-to": "/topic/v5/out",
                           "correlation-id": "c-7", "x-a": "1" } });
    const p = await mbox.next();
    assert.equal(p.properties?.contentType, "text/plain");
    assert.equal(p.properties?.responseTopic, "v5/out");
    assert.equal(p.properties?.correlationData?.toString(), "c-7");
    assert.deepEqual({ ...p.properties?.userProperties }, { "x-a": "1" });
  } finally {
    m.end(true);
    await s.deactivate();
  }
});
