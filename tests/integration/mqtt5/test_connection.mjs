// MQTT 5 connection level behaviour over WebSocket or TCP (MQTT5_TRANSPORT),
// with mqtt.js 5 and a raw packet client: CONNACK properties, server
// DISCONNECT reason codes (topic alias errors 0x94, second CONNECT 0x82,
// oversize packet 0x95, session takeover 0x8E, duplicate property 0x82,
// unknown property 0x81, AUTH 0x82) and CONNECT with an Authentication
// Method (CONNACK 0x8C).
//
//   DUPLEX_BIN=build/daemon/duplex MQTT5_TRANSPORT=tcp node --test tests/integration/mqtt5/test_connection.mjs
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  PEER, RawClient, closed, connect, publish, rawPacket, rawPublish, sleep, str, subscribe, waitPacket,
  withBroker,
} from "./common.mjs";

test("CONNACK properties: assigned client identifier, limits announced", () =>
  withBroker(["--max-packet-size", "4096", "--topic-alias-maximum", "8", "--receive-maximum", "5",
              "--max-keep-alive", "10"], async (broker, client) => {
    const raw = await RawClient.open(broker);
    const ack = await raw.connect({ requestResponseInformation: true }, { clientId: "", keepalive: 60 });
    assert.equal(ack.reasonCode, 0);
    assert.equal(ack.sessionPresent, false);
    const p = ack.properties;
    assert.equal(typeof p.assignedClientIdentifier, "string");
    assert.ok(p.assignedClientIdentifier.length > 0, "assigned client identifier for an empty id");
    assert.equal(p.topicAliasMaximum, 8);
    assert.equal(p.receiveMaximum, 5);
    assert.equal(p.maximumPacketSize, 4096);
    assert.equal(p.serverKeepAlive, 10, "max keep alive lowers the client's 60");
    if (!PEER) {
      // duplex documents Response Information duplex/response/<client id>
      // (mosquitto 2.0.11 does not offer it).
      assert.equal(p.responseInformation, `duplex/response/${p.assignedClientIdentifier}`);
      // Maximum QoS and Retain Available are omitted: both available.
      assert.equal(p.maximumQoS, undefined);
      assert.equal(p.retainAvailable, undefined);
    }
    // The assigned id is usable and unique.
    const raw2 = await RawClient.open(broker);
    const ack2 = await raw2.connect({}, { clientId: "" });
    assert.ok(ack2.properties.assignedClientIdentifier);
    assert.notEqual(ack2.properties.assignedClientIdentifier, p.assignedClientIdentifier);
    // A client that sends its own id gets none assigned.
    const named = await client({ clientId: "named-client" });
    assert.equal(named.connack.properties?.assignedClientIdentifier, undefined);
    raw.destroy();
    raw2.destroy();
  }));

test("CONNACK defaults: topic alias maximum and receive maximum", () =>
  withBroker([], async (broker, client) => {
    const c = await client();
    // duplex: topic_alias_maximum 16, receive_maximum 64 (README);
    // mosquitto 2.0.11: max_topic_alias 10, max_inflight_messages 20.
    assert.equal(c.connack.properties.topicAliasMaximum, PEER ? 10 : 16);
    assert.equal(c.connack.properties.receiveMaximum, PEER ? 20 : 64);
  }));

async function expectServerDisconnect(raw, reason, what) {
  const d = await raw.disconnectAndClose(3000);
  assert.ok(d, `${what}: a DISCONNECT before the close (got ${raw.packets.map((p) => p.cmd).join(",") || "nothing"})`);
  assert.equal(d.reasonCode, reason, `${what}: reason 0x${reason.toString(16)}, got 0x${d.reasonCode?.toString(16)}`);
}

test("topic alias 0 -> DISCONNECT 0x94", () =>
  withBroker([], async (broker) => {
    const raw = await RawClient.open(broker);
    assert.equal((await raw.connect()).reasonCode, 0);
    raw.send(rawPublish("ta/zero", Buffer.from([0x23, 0x00, 0x00]), "x"));
    // 0x94 Topic Alias invalid (3.3.2.3.4); mosquitto 2.0.11 answers 0x81.
    await expectServerDisconnect(raw, PEER ? 0x81 : 0x94, "alias 0");
  }));

test("topic alias above the maximum -> DISCONNECT 0x94", () =>
  withBroker(["--topic-alias-maximum", "4"], async (broker) => {
    const raw = await RawClient.open(broker);
    const ack = await raw.connect();
    assert.equal(ack.properties.topicAliasMaximum, 4);
    raw.send(rawPublish("ta/ok", Buffer.from([0x23, 0x00, 0x04]), "x", 1, 1));  // alias 4 is fine
    const pa = await raw.next("puback");
    assert.equal(pa.messageId, 1);
    raw.send(rawPublish("ta/high", Buffer.from([0x23, 0x00, 0x05]), "x", 1, 2));
    await expectServerDisconnect(raw, 0x94, "alias 5 > 4");
  }));

test("alias-only PUBLISH with an unknown alias -> DISCONNECT 0x82", () =>
  withBroker([], async (broker) => {
    const raw = await RawClient.open(broker);
    assert.equal((await raw.connect()).reasonCode, 0);
    raw.send(rawPublish("", Buffer.from([0x23, 0x00, 0x03]), "x"));
    await expectServerDisconnect(raw, 0x82, "unknown alias");
  }));

test("second CONNECT -> DISCONNECT 0x82", () =>
  withBroker([], async (broker) => {
    const raw = await RawClient.open(broker);
    assert.equal((await raw.connect({}, { clientId: "twice" })).reasonCode, 0);
    raw.send({ cmd: "connect", protocolId: "MQTT", protocolVersion: 5, clean: true, keepalive: 30, clientId: "twice" });
    // mosquitto 2.0.11 closes without the (SHOULD) DISCONNECT.
    if (PEER) await raw.disconnectAndClose(3000);
    else await expectServerDisconnect(raw, 0x82, "second CONNECT");
  }));

test("packet above the maximum packet size -> DISCONNECT 0x95", () =>
  withBroker(["--max-packet-size", "1024"], async (broker, client) => {
    const sub = await client();
    await subscribe(sub, "big/#", { qos: 1 });
    const raw = await RawClient.open(broker);
    const ack = await raw.connect();
    assert.equal(ack.properties.maximumPacketSize, 1024);
    raw.send({ cmd: "publish", topic: "big/ok", qos: 1, messageId: 1, payload: Buffer.alloc(900, 0x61) });
    assert.equal((await raw.next("puback")).messageId, 1);
    raw.send({ cmd: "publish", topic: "big/no", qos: 1, messageId: 2, payload: Buffer.alloc(2000, 0x62) });
    if (PEER && raw.transport === "ws") {
      // mosquitto 2.0.11 does not enforce max_packet_size on its
      // WebSocket listener (it routes the message): nothing to check.
      await sleep(300);
      return;
    }
    await expectServerDisconnect(raw, 0x95, "2 kB PUBLISH");
    assert.equal((await sub.messages.next()).topic, "big/ok");
    assert.ok(await sub.messages.none(300), "the oversize message is not routed");
  }));

test("session takeover: the first client gets DISCONNECT 0x8E", () =>
  withBroker([], async (broker, client) => {
    const first = await client({ clientId: "taken" });
    const gotDisconnect = new Promise((r) => first.once("disconnect", r));
    const second = await client({ clientId: "taken" });
    // [MQTT-3.1.4-3]: DISCONNECT 0x8E, then close. mosquitto 2.0.11 only
    // closes the old connection, so peer mode checks the close alone.
    const d = PEER ? null : await Promise.race([gotDisconnect, sleep(3000).then(() => null)]);
    if (!PEER) {
      assert.ok(d, `DISCONNECT to the first connection (got ${first.packets.map((p) => p.cmd)})`);
      assert.equal(d.reasonCode, 0x8e);
    }
    await closed(first);
    // The new connection works.
    await subscribe(second, "to/t", { qos: 1 });
    await publish(second, "to/t", "still here", { qos: 1 });
    assert.equal((await second.messages.next()).payload, "still here");
  }));

test("CONNECT with an Authentication Method -> CONNACK 0x8C", () =>
  withBroker([], async (broker) => {
    const raw = await RawClient.open(broker);
    const ack = await raw.connect({ authenticationMethod: "SCRAM-SHA-1", authenticationData: Buffer.from("x") });
    assert.equal(ack.reasonCode, 0x8c);
    await raw.disconnectAndClose(3000);
    assert.equal(raw.packets.filter((p) => p.cmd === "disconnect").length, 0, "no DISCONNECT after a refusing CONNACK");
  }));

// Raw vectors after a successful CONNECT: the server closes with DISCONNECT
// (a SHOULD in 4.13.1: mosquitto 2.0.11 closes without one, so in peer mode
// only the close is checked).
async function rawVector(broker, bytes, reason, what) {
  const raw = await RawClient.open(broker);
  assert.equal((await raw.connect()).reasonCode, 0);
  raw.send(bytes);
  if (PEER) {
    await raw.disconnectAndClose(3000);
    const d = raw.packets.find((p) => p.cmd === "disconnect");
    if (d) assert.equal(d.reasonCode, reason, what);
    return;
  }
  await expectServerDisconnect(raw, reason, what);
}

test("PUBLISH with a duplicate property -> DISCONNECT 0x82", () =>
  withBroker([], async (broker) => {
    // Payload Format Indicator twice.
    await rawVector(broker, rawPublish("dup/p", Buffer.from([0x01, 0x01, 0x01, 0x01]), "x", 1, 3), 0x82,
      "duplicate property");
  }));

test("PUBLISH with an unknown property id -> DISCONNECT 0x81", () =>
  withBroker([], async (broker) => {
    await rawVector(broker, rawPublish("unk/p", Buffer.from([0x7f, 0x00]), "x", 1, 3), 0x81, "unknown property");
  }));

test("AUTH packet -> DISCONNECT 0x82", () =>
  withBroker([], async (broker) => {
    // AUTH, reason 0x18 (continue authentication), no properties.
    await rawVector(broker, rawPacket(0xf0, Buffer.from([0x18, 0x00])), 0x82, "AUTH");
  }));
