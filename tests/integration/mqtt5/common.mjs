// Shared helpers of the MQTT 5 mqtt.js integration tests: a broker fixture
// (duplex from DUPLEX_BIN, or mosquitto with DUPLEX_TEST_PEER=mosquitto to
// check the tests themselves), mqtt.js clients over WebSocket or TCP
// (MQTT5_TRANSPORT=ws|tcp) and small async utilities.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { requirePeer } from "../peers.mjs";

export { IN_CI, missingPeer, requirePeer } from "../peers.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, "..", "node", "package.json"));
export const mqtt = requirePeer(require, "mqtt", "npm install in tests/integration/node: tools/setup");

for (const v of ["http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"])
  delete process.env[v];

export const PEER = process.env.DUPLEX_TEST_PEER === "mosquitto";
export const TRANSPORT = process.env.MQTT5_TRANSPORT === "tcp" ? "tcp" : "ws";

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    Promise.resolve(promise).finally(() => clearTimeout(timer)),
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timeout (${ms} ms): ${what}`)), ms);
    }),
  ]);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
}

// duplex flag -> mosquitto option (peer mode).
const MOSQ_MAP = {
  "--max-packet-size": "max_packet_size",
  "--topic-alias-maximum": "max_topic_alias",
  "--max-inflight": "max_inflight_messages",
  "--max-queued-messages": "max_queued_messages",
  "--max-keep-alive": "max_keepalive",
  "--receive-maximum": "max_inflight_messages",
};

// Starts a broker with ws and mqtt listeners on ephemeral loopback ports.
export async function startBroker(extraArgs = []) {
  const ports = {};
  let argv;
  let conf = null;
  if (PEER) {
    const lines = ["per_listener_settings false", "allow_anonymous true", "persistence false",
                   "log_dest stderr", "log_type all", "connection_messages true"];
    const perListener = [];
    for (let i = 0; i + 1 < extraArgs.length; i += 2) {
      const opt = MOSQ_MAP[extraArgs[i]];
      if (!opt) continue;
      // max_topic_alias is a listener option in mosquitto.
      (opt === "max_topic_alias" ? perListener : lines).push(`${opt} ${extraArgs[i + 1]}`);
    }
    ports.mqtt = await freePort();
    ports.ws = await freePort();
    lines.push(`listener ${ports.mqtt} 127.0.0.1`, ...perListener,
               `listener ${ports.ws} 127.0.0.1`, "protocol websockets", ...perListener);
    conf = path.join(os.tmpdir(), `duplex-mqtt5-mosq-${process.pid}-${Math.random().toString(36).slice(2)}.conf`);
    fs.writeFileSync(conf, lines.join("\n") + "\n");
    argv = [process.env.MOSQUITTO_BIN || "/usr/sbin/mosquitto", "-c", conf];
  } else {
    const bin = process.env.DUPLEX_BIN;
    assert.ok(bin, "DUPLEX_BIN is not set");
    argv = [bin, "--ws", "127.0.0.1:0", "--mqtt", "127.0.0.1:0", "--stomp", "off", "--log-level", "debug",
            ...extraArgs];
  }
  const proc = spawn(argv[0], argv.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  const onData = (d) => {
    log += d.toString();
    if (process.env.DUPLEX_ECHO) process.stderr.write(d);
  };
  proc.stdout.on("data", onData);
  proc.stderr.on("data", onData);
  const exited = new Promise((r) => proc.once("exit", r));
  await withTimeout(new Promise((resolve, reject) => {
    const check = () => {
      if (PEER) {
        if (/mosquitto version \S+ running/.test(log)) return resolve();
      } else {
        for (const m of log.matchAll(/listening (\w+) 127\.0\.0\.1:(\d+)/g)) ports[m[1]] = Number(m[2]);
        if (ports.ws && ports.mqtt) return resolve();
      }
      if (proc.exitCode !== null) return reject(new Error(`broker exited: ${log}`));
      setTimeout(check, 20);
    };
    check();
  }), 10000, "broker start").catch((e) => { proc.kill("SIGKILL"); throw e; });
  return {
    ports,
    log: () => log,
    url(transport = TRANSPORT) {
      return transport === "tcp" ? `mqtt://127.0.0.1:${ports.mqtt}` : `ws://127.0.0.1:${ports.ws}/mqtt`;
    },
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill("SIGTERM");
        const t = setTimeout(() => proc.kill("SIGKILL"), 5000);
        await exited;
        clearTimeout(t);
      }
      if (conf) fs.rmSync(conf, { force: true });
    },
  };
}

// A queue of received items; next() waits for the next one.
export function inbox() {
  const items = [];
  const waiters = [];
  return {
    items,
    push(m) { const w = waiters.shift(); if (w) w(m); else items.push(m); },
    next(ms = 3000, what = "message") {
      if (items.length) return Promise.resolve(items.shift());
      let resolver;
      const p = new Promise((r) => { resolver = r; waiters.push(r); });
      return withTimeout(p, ms, what).catch((e) => {
        const i = waiters.indexOf(resolver);
        if (i >= 0) waiters.splice(i, 1);
        throw e;
      });
    },
    async none(ms = 500) {
      await sleep(ms);
      return items.length === 0;
    },
  };
}

// Deep copy of a packet at the moment it was seen (mqtt.js mutates some).
function snapshot(packet) {
  const copy = { ...packet };
  if (packet.properties) copy.properties = structuredClone(packet.properties);
  if (packet.payload) copy.payload = Buffer.from(packet.payload);
  return copy;
}

// Connects an MQTT 5 client. Received PUBLISHes go to c.messages as
// {topic, payload (string), packet}; every received packet to c.packets.
export async function connect(broker, opts = {}, transport = TRANSPORT) {
  const { expectFailure, ...options } = opts;
  const c = mqtt.connect(broker.url(transport), {
    protocolVersion: 5,
    reconnectPeriod: 0,
    connectTimeout: 5000,
    keepalive: 30,
    clientId: `t-${Math.random().toString(36).slice(2, 10)}`,
    ...options,
  });
  c.messages = inbox();
  c.packets = [];
  c.packetBox = inbox();
  c.on("packetreceive", (p) => {
    const s = snapshot(p);
    c.packets.push(s);
    c.packetBox.push(s);
  });
  c.on("message", (topic, payload, packet) =>
    c.messages.push({ topic, payload: payload.toString(), raw: Buffer.from(payload), packet }));
  c.on("error", (e) => { c.lastError = e; });
  const connack = await withTimeout(new Promise((resolve, reject) => {
    c.once("connect", resolve);
    c.once("error", reject);
    c.once("close", () => reject(new Error("closed before CONNACK")));
  }), 6000, "CONNACK").catch((e) => {
    c.end(true);
    if (expectFailure) return { failed: e };
    throw e;
  });
  c.connack = connack;
  return c;
}

// Waits for a received packet matching pred (already seen ones included).
export async function waitPacket(c, pred, ms = 3000, what = "packet") {
  const deadline = Date.now() + ms;
  let seen = 0;
  for (;;) {
    for (; seen < c.packets.length; ++seen) if (pred(c.packets[seen])) return c.packets[seen];
    if (Date.now() > deadline) throw new Error(`timeout: ${what}; got ${c.packets.map((p) => p.cmd).join(",")}`);
    await sleep(10);
  }
}

export function closed(c, ms = 3000) {
  if (!c.connected && c.stream && c.stream.destroyed) return Promise.resolve();
  return withTimeout(new Promise((r) => c.once("close", r)), ms, "connection close");
}

export function subscribe(c, filter, opts = {}) {
  return withTimeout(new Promise((resolve, reject) =>
    c.subscribe(filter, { qos: 1, ...opts }, (err, granted) => (err ? reject(err) : resolve(granted)))),
  3000, `SUBACK ${JSON.stringify(filter)}`);
}

export function publish(c, topic, payload, opts = {}) {
  return withTimeout(new Promise((resolve, reject) =>
    c.publish(topic, payload, opts, (err, packet) => (err ? reject(err) : resolve(packet)))),
  3000, `publish ${topic}`);
}

// Ends a client (DISCONNECT 0x00 unless force).
export function end(c, force = false, opts = {}) {
  return withTimeout(new Promise((r) => c.end(force, opts, r)), 3000, "end").catch(() => c.end(true));
}

// Drops the connection without DISCONNECT (like a network failure).
export function drop(c) {
  c.stream.destroy();
  c.end(true);
}

// Runs fn with a fresh broker and closes all clients and the broker after.
export async function withBroker(extraArgs, fn) {
  const broker = await startBroker(extraArgs);
  const clients = [];
  const track = async (opts, transport) => {
    const c = await connect(broker, opts, transport);
    if (c && c.end) clients.push(c);
    return c;
  };
  try {
    await fn(broker, track);
  } catch (e) {
    if (process.env.DUPLEX_ECHO === undefined) e.message += `\n--- broker log tail ---\n${broker.log().split("\n").slice(-40).join("\n")}`;
    throw e;
  } finally {
    for (const c of clients) c.end(true);
    await broker.stop();
  }
}

// ---------------------------------------------------------------------------
// A raw MQTT 5 connection over TCP or WebSocket (subprotocol "mqtt"):
// packets are written as given (objects via mqtt-packet, or raw bytes) and
// every received packet is parsed and kept, so flow control and server
// DISCONNECTs can be observed exactly.
export const mqttPacket = require("mqtt-packet");
const WebSocket = require("ws");

export class RawClient {
  static async open(broker, transport = TRANSPORT) {
    const r = new RawClient();
    r.transport = transport;
    r.packets = [];
    r.box = inbox();
    r.parseErrors = [];
    r.closedFlag = false;
    r.parser = mqttPacket.parser({ protocolVersion: 5 });
    r.parser.on("packet", (p) => { r.packets.push(p); r.box.push(p); if (r.onPacket) r.onPacket(p); });
    r.parser.on("error", (e) => r.parseErrors.push(e));
    r.closed = new Promise((resolve) => { r._closed = resolve; });
    const onClose = () => { r.closedFlag = true; r._closed(); };
    if (transport === "tcp") {
      const s = net.connect(broker.ports.mqtt, "127.0.0.1");
      s.on("data", (d) => r.parser.parse(d));
      s.on("close", onClose);
      s.on("error", () => {});
      await withTimeout(new Promise((res, rej) => { s.once("connect", res); s.once("error", rej); }), 3000, "tcp connect");
      r.write = (b) => { if (!s.destroyed) s.write(b); };
      r.destroy = () => s.destroy();
    } else {
      const ws = new WebSocket(`ws://127.0.0.1:${broker.ports.ws}/mqtt`, ["mqtt"]);
      ws.binaryType = "nodebuffer";
      ws.on("message", (d) => r.parser.parse(Buffer.from(d)));
      ws.on("close", onClose);
      ws.on("error", () => {});
      await withTimeout(new Promise((res, rej) => { ws.once("open", res); ws.once("error", rej); }), 3000, "ws open");
      r.write = (b) => { if (ws.readyState === WebSocket.OPEN) ws.send(b); };
      r.destroy = () => ws.terminate();
    }
    return r;
  }

  send(packet) {
    this.write(Buffer.isBuffer(packet) ? packet : mqttPacket.generate(packet, { protocolVersion: 5 }));
  }

  async next(cmd, ms = 3000) {
    for (;;) {
      const p = await this.box.next(ms, cmd || "packet");
      if (!cmd || p.cmd === cmd) return p;
    }
  }

  async connect(props = {}, extra = {}) {
    this.send({ cmd: "connect", protocolId: "MQTT", protocolVersion: 5, clean: true, keepalive: 30,
                clientId: `raw-${Math.random().toString(36).slice(2, 10)}`, properties: props, ...extra });
    const ack = await this.next("connack");
    return ack;
  }

  // Waits for the connection to close; returns the DISCONNECT seen before (or undefined).
  async disconnectAndClose(ms = 3000) {
    await withTimeout(this.closed, ms, "server closing the connection");
    return this.packets.find((p) => p.cmd === "disconnect");
  }
}

// Raw byte helpers for packets mqtt-packet would refuse to generate.
export function varint(n) {
  const out = [];
  do { let b = n % 128; n = Math.floor(n / 128); if (n) b |= 0x80; out.push(b); } while (n);
  return Buffer.from(out);
}
export function str(s) {
  const b = Buffer.isBuffer(s) ? s : Buffer.from(s, "utf8");
  const l = Buffer.alloc(2); l.writeUInt16BE(b.length);
  return Buffer.concat([l, b]);
}
export function rawPacket(firstByte, body) {
  return Buffer.concat([Buffer.from([firstByte]), varint(body.length), body]);
}
// PUBLISH with raw property bytes.
export function rawPublish(topic, propBytes, payload, qos = 0, pid = 1) {
  const parts = [str(topic)];
  if (qos) { const b = Buffer.alloc(2); b.writeUInt16BE(pid); parts.push(b); }
  parts.push(varint(propBytes.length), propBytes, Buffer.from(payload));
  return rawPacket(0x30 | (qos << 1), Buffer.concat(parts));
}
