// MQTT 5 message features with mqtt.js 5 (protocolVersion 5) over WebSocket
// or TCP (MQTT5_TRANSPORT): request/response, topic aliases, shared
// subscriptions, No Local, Retain Handling / Retain As Published,
// subscription identifiers, user properties, content type, payload format
// indicator, PUBACK reason codes and Receive Maximum flow control.
//
//   DUPLEX_BIN=build/daemon/duplex MQTT5_TRANSPORT=tcp node --test tests/integration/mqtt5/test_messaging.mjs
//   DUPLEX_TEST_PEER=mosquitto ... (same tests against mosquitto)
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  PEER, RawClient, connect, end, publish, sleep, subscribe, withBroker, withTimeout,
} from "./common.mjs";

test("request/response: Response Topic and Correlation Data between two clients", () =>
  withBroker([], async (broker, client) => {
    const requester = await client({ clientId: "requester" });
    const responder = await client({ clientId: "responder" });
    await subscribe(responder, "rr/service", { qos: 1 });
    await subscribe(requester, "rr/reply/requester", { qos: 1 });
    responder.on("message", (topic, payload, packet) => {
      if (topic !== "rr/service") return;
      responder.publish(packet.properties.responseTopic, `re:${payload}`, {
        qos: 1, properties: { correlationData: packet.properties.correlationData },
      });
    });
    const corr = Buffer.from([0x00, 0xff, 0x10, 0x80, 0x7f]);  // binary, not UTF-8
    await publish(requester, "rr/service", "ping", {
      qos: 1, properties: { responseTopic: "rr/reply/requester", correlationData: corr },
    });
    const req = await responder.messages.next();
    assert.equal(req.topic, "rr/service");
    assert.equal(req.packet.properties.responseTopic, "rr/reply/requester");
    assert.deepEqual(Buffer.from(req.packet.properties.correlationData), corr);
    const reply = await requester.messages.next();
    assert.equal(reply.topic, "rr/reply/requester");
    assert.equal(reply.payload, "re:ping");
    assert.deepEqual(Buffer.from(reply.packet.properties.correlationData), corr);
  }));

test("topic aliases client->server: alias set, alias-only publishes, remap", () =>
  withBroker([], async (broker, client) => {
    const sub = await client();
    const pub = await client();
    assert.ok(pub.connack.properties.topicAliasMaximum >= 2, "server allows topic aliases");
    await subscribe(sub, "ta/#", { qos: 1 });
    await publish(pub, "ta/one", "a", { qos: 1, properties: { topicAlias: 1 } });
    await publish(pub, "", "b", { qos: 1, properties: { topicAlias: 1 } });
    await publish(pub, "ta/two", "c", { qos: 0, properties: { topicAlias: 2 } });
    await publish(pub, "", "d", { qos: 0, properties: { topicAlias: 2 } });
    await publish(pub, "ta/three", "e", { qos: 1, properties: { topicAlias: 1 } });  // remap 1
    await publish(pub, "", "f", { qos: 1, properties: { topicAlias: 1 } });
    await publish(pub, "", "g", { qos: 1, properties: { topicAlias: 2 } });
    const got = [];
    for (let i = 0; i < 7; ++i) {
      const m = await sub.messages.next();
      got.push(`${m.topic}=${m.payload}`);
      // The subscriber advertised no Topic Alias Maximum: never an alias.
      assert.equal(m.packet.properties?.topicAlias, undefined, "no alias to a client that allows none");
    }
    assert.deepEqual(got, ["ta/one=a", "ta/one=b", "ta/two=c", "ta/two=d", "ta/three=e", "ta/three=f", "ta/two=g"]);
    assert.ok(await sub.messages.none(300));
  }));

test("topic aliases server->client: client with topicAliasMaximum sees correct topics", () =>
  withBroker([], async (broker, client) => {
    const sub = await client({ properties: { topicAliasMaximum: 2 } });
    const pub = await client();
    await subscribe(sub, "tb/#", { qos: 1 });
    const topics = ["tb/a", "tb/b", "tb/c", "tb/a", "tb/b", "tb/c", "tb/a"];
    for (let i = 0; i < topics.length; ++i) await publish(pub, topics[i], `m${i}`, { qos: 1 });
    for (let i = 0; i < topics.length; ++i) {
      const m = await sub.messages.next();
      assert.equal(m.topic, topics[i]);
      assert.equal(m.payload, `m${i}`);
    }
    const pubs = sub.packets.filter((p) => p.cmd === "publish");
    for (const p of pubs) {
      const alias = p.properties?.topicAlias;
      if (alias !== undefined) assert.ok(alias >= 1 && alias <= 2, `alias ${alias} within our maximum 2`);
    }
    const aliasOnly = pubs.filter((p) => p.topic === "" || p.topic?.length === 0).length;
    if (!PEER) {
      // duplex assigns aliases to the first topics it sends (README): tb/a
      // and tb/b get aliases 1 and 2; their repeats are alias-only, tb/c never.
      assert.equal(pubs[0].properties?.topicAlias, 1);
      assert.equal(pubs[1].properties?.topicAlias, 2);
      assert.equal(pubs[2].properties?.topicAlias, undefined);
      assert.equal(aliasOnly, 3, "repeats of tb/a (x2) and tb/b are sent alias-only");
    }
  }));

test("shared subscription spreads messages, each exactly once, no retained on subscribe", () =>
  withBroker([], async (broker, client) => {
    const pub = await client();
    await publish(pub, "sh/t", "retained-before", { qos: 1, retain: true });
    const subs = [];
    for (let i = 0; i < 3; ++i) {
      const s = await client({ clientId: `shared-${i}` });
      const granted = await subscribe(s, "$share/g/sh/t", { qos: 1 });
      assert.equal(granted[0].qos, 1);
      subs.push(s);
    }
    await sleep(300);
    // mosquitto 2.0.11 sends the retained message on a shared subscribe,
    // contrary to MQTT 5 4.8.2: only checked against duplex.
    if (!PEER) for (const s of subs) assert.equal(s.messages.items.length, 0, "no retained message on a shared subscribe");
    if (PEER) for (const s of subs) s.messages.items.length = 0;
    const N = 30;
    for (let i = 0; i < N; ++i) await publish(pub, "sh/t", `n${i}`, { qos: 1 });
    const deadline = Date.now() + 5000;
    while (subs.reduce((a, s) => a + s.messages.items.length, 0) < N && Date.now() < deadline) await sleep(20);
    await sleep(300);
    const all = subs.flatMap((s) => s.messages.items.map((m) => m.payload));
    const counts = subs.map((s) => s.messages.items.length);
    assert.equal(all.length, N, `total ${all.length} (per subscriber ${counts})`);
    assert.equal(new Set(all).size, N, "no duplicates");
    for (const c of counts) assert.ok(c > 0, `every member gets some: ${counts}`);
    for (const s of subs) for (const m of s.messages.items) assert.equal(m.topic, "sh/t");
    await publish(pub, "sh/t", "", { qos: 1, retain: true });
  }));

test("No Local: own publishes not delivered back, others' are", () =>
  withBroker([], async (broker, client) => {
    const a = await client();
    const b = await client();
    await subscribe(a, "nl/t", { qos: 1, nl: true });
    await subscribe(b, "nl/t", { qos: 1 });
    await publish(a, "nl/t", "from-a", { qos: 1 });
    const mb = await b.messages.next();
    assert.equal(mb.payload, "from-a");
    await publish(b, "nl/t", "from-b", { qos: 1 });
    const ma = await a.messages.next();
    assert.equal(ma.payload, "from-b", "a gets b's message but never its own");
    assert.equal((await b.messages.next()).payload, "from-b");
    assert.ok(await a.messages.none(400));
  }));

test("Retain Handling 0/1/2 and Retain As Published", () =>
  withBroker([], async (broker, client) => {
    const pub = await client();
    await publish(pub, "rh/t", "kept", { qos: 1, retain: true });
    // 0: retained message on every subscribe, including a re-subscribe.
    const c0 = await client();
    await subscribe(c0, "rh/t", { qos: 1, rh: 0 });
    let m = await c0.messages.next();
    assert.equal(m.payload, "kept");
    assert.equal(m.packet.retain, true);
    await subscribe(c0, "rh/t", { qos: 1, rh: 0 });
    assert.equal((await c0.messages.next()).payload, "kept", "rh 0 re-subscribe sends it again");
    // 1: only when the subscription is new.
    const c1 = await client();
    await subscribe(c1, "rh/t", { qos: 1, rh: 1 });
    m = await c1.messages.next();
    assert.equal(m.payload, "kept");
    assert.equal(m.packet.retain, true);
    await subscribe(c1, "rh/t", { qos: 1, rh: 1 });
    assert.ok(await c1.messages.none(400), "rh 1: no retained message for an existing subscription");
    // 2: never.
    const c2 = await client();
    await subscribe(c2, "rh/t", { qos: 1, rh: 2 });
    assert.ok(await c2.messages.none(400), "rh 2: no retained message");
    // Retain As Published on live messages.
    const rap = await client();
    const norap = await client();
    await subscribe(rap, "rh/live", { qos: 1, rap: true });
    await subscribe(norap, "rh/live", { qos: 1, rap: false });
    await publish(pub, "rh/live", "live", { qos: 1, retain: true });
    m = await rap.messages.next();
    assert.equal(m.payload, "live");
    assert.equal(m.packet.retain, true, "rap: retain flag kept");
    m = await norap.messages.next();
    assert.equal(m.payload, "live");
    assert.equal(m.packet.retain, false, "no rap: retain flag cleared on live delivery");
    // rh 2 subscriber still gets live messages (not retained flag).
    await publish(pub, "rh/t", "live2", { qos: 1 });
    m = await c2.messages.next();
    assert.equal(m.payload, "live2");
    assert.equal(m.packet.retain, false);
    for (const t of ["rh/t", "rh/live"]) await publish(pub, t, "", { qos: 1, retain: true });
  }));

test("subscription identifiers on delivery", () =>
  withBroker([], async (broker, client) => {
    const c = await client();
    const pub = await client();
    await subscribe(c, "si/+", { qos: 1, properties: { subscriptionIdentifier: 7 } });
    await subscribe(c, "si/#", { qos: 1, properties: { subscriptionIdentifier: 300 } });
    const plain = await client();
    await subscribe(plain, "si/#", { qos: 1 });
    await publish(pub, "si/x/y", "deep", { qos: 1 });  // only si/#
    let m = await c.messages.next();
    assert.equal(m.payload, "deep");
    assert.deepEqual([m.packet.properties.subscriptionIdentifier].flat(), [300]);
    m = await plain.messages.next();
    assert.equal(m.packet.properties?.subscriptionIdentifier, undefined, "no identifier when none was given");
    await publish(pub, "si/a", "both", { qos: 1 });  // si/+ and si/#
    const ids = [];
    m = await c.messages.next();
    assert.equal(m.payload, "both");
    ids.push(...[m.packet.properties.subscriptionIdentifier].flat());
    if (ids.length < 2) {
      // One copy per subscription is allowed too [MQTT-3.3.4-4/5].
      m = await c.messages.next();
      assert.equal(m.payload, "both");
      ids.push(...[m.packet.properties.subscriptionIdentifier].flat());
    }
    assert.deepEqual(ids.sort((x, y) => x - y), [7, 300]);
    assert.ok(await c.messages.none(300));
  }));

test("user properties forwarded unchanged and in order, repeated keys too", () =>
  withBroker([], async (broker, client) => {
    const sub = await client();
    const pub = await client();
    await subscribe(sub, "up/t", { qos: 1 });
    const userProperties = { zeta: "1", alpha: ["x", "y", "x"], "k ü": "v é", empty: "" };
    await publish(pub, "up/t", "p", { qos: 1, properties: { userProperties } });
    const m = await sub.messages.next();
    const got = { ...m.packet.properties.userProperties };
    assert.deepEqual(got, userProperties);
    assert.deepEqual(Object.keys(got), Object.keys(userProperties), "order of keys kept");
  }));

test("content type and payload format indicator forwarded", () =>
  withBroker([], async (broker, client) => {
    const sub = await client();
    const pub = await client();
    await subscribe(sub, "ct/#", { qos: 1 });
    await publish(pub, "ct/json", '{"a":1}', {
      qos: 1, properties: { contentType: "application/json; charset=utf-8", payloadFormatIndicator: true },
    });
    let m = await sub.messages.next();
    assert.equal(m.payload, '{"a":1}');
    assert.equal(m.packet.properties.contentType, "application/json; charset=utf-8");
    assert.equal(m.packet.properties.payloadFormatIndicator, true);
    await publish(pub, "ct/bin", Buffer.from([0xff, 0xfe]), { qos: 1 });
    m = await sub.messages.next();
    assert.deepEqual(m.raw, Buffer.from([0xff, 0xfe]));
    assert.equal(m.packet.properties?.payloadFormatIndicator, undefined);
    assert.equal(m.packet.properties?.contentType, undefined);
  }));

test("invalid UTF-8 payload with format indicator 1: PUBACK 0x99, not delivered", () =>
  withBroker([], async (broker, client) => {
    const sub = await client();
    await subscribe(sub, "pf/t", { qos: 1 });
    const raw = await RawClient.open(broker);
    assert.equal((await raw.connect()).reasonCode, 0);
    raw.send({ cmd: "publish", topic: "pf/t", qos: 1, messageId: 5, payload: Buffer.from([0x61, 0xc3, 0x28]),
               properties: { payloadFormatIndicator: true } });
    const ack = await raw.next("puback");
    assert.equal(ack.messageId, 5);
    // Validating the payload is a MAY (3.3.2.3.2) that duplex does and
    // mosquitto 2.0.11 does not: only checked against duplex.
    if (!PEER) {
      assert.equal(ack.reasonCode, 0x99);
      assert.ok(await sub.messages.none(500), "refused message not routed");
    } else {
      await sub.messages.next();
    }
    // Valid UTF-8 with the indicator is fine.
    raw.send({ cmd: "publish", topic: "pf/t", qos: 1, messageId: 6, payload: Buffer.from("ok é"),
               properties: { payloadFormatIndicator: true } });
    const ack2 = await raw.next("puback");
    assert.equal(ack2.messageId, 6);
    assert.equal(ack2.reasonCode ?? 0, 0);
    assert.equal((await sub.messages.next()).payload, "ok é");
    raw.destroy();
  }));

test("PUBACK / PUBREC 0x10 when no subscriber matches, 0x00 when one does", () =>
  withBroker([], async (broker, client) => {
    const raw = await RawClient.open(broker);
    assert.equal((await raw.connect()).reasonCode, 0);
    raw.send({ cmd: "publish", topic: "nobody/here", qos: 1, messageId: 9, payload: "x" });
    let ack = await raw.next("puback");
    assert.equal(ack.messageId, 9);
    assert.equal(ack.reasonCode, 0x10);
    // On PUBREC 0x10 is a MAY (3.5.2.1) that duplex uses; mosquitto 2.0.11 answers 0x00.
    const none = PEER ? 0 : 0x10;
    raw.send({ cmd: "publish", topic: "nobody/here", qos: 2, messageId: 10, payload: "x" });
    ack = await raw.next("pubrec");
    assert.equal(ack.messageId, 10);
    assert.equal(ack.reasonCode ?? 0, none);
    raw.send({ cmd: "pubrel", messageId: 10 });
    const comp = await raw.next("pubcomp");
    assert.equal(comp.messageId, 10);
    const sub = await client();
    await subscribe(sub, "nobody/here", { qos: 1 });
    raw.send({ cmd: "publish", topic: "nobody/here", qos: 1, messageId: 11, payload: "y" });
    ack = await raw.next("puback");
    assert.equal(ack.messageId, 11);
    assert.equal(ack.reasonCode ?? 0, 0);
    raw.destroy();
  }));

test("Receive Maximum 2 with a slow consumer: at most 2 unacknowledged, all in order", () =>
  withBroker([], async (broker, client) => {
    const raw = await RawClient.open(broker);
    const ack = await raw.connect({ receiveMaximum: 2 }, { clientId: "slow" });
    assert.equal(ack.reasonCode, 0);
    raw.send({ cmd: "subscribe", messageId: 1, subscriptions: [{ topic: "fc/t", qos: 1 }] });
    const suback = await raw.next("suback");
    assert.deepEqual(suback.granted, [1]);
    let inflight = 0;
    let maxInflight = 0;
    const got = [];
    raw.onPacket = (p) => {
      if (p.cmd !== "publish") return;
      got.push(p.payload.toString());
      assert.equal(p.qos, 1);
      inflight += 1;
      maxInflight = Math.max(maxInflight, inflight);
      setTimeout(() => { inflight -= 1; raw.send({ cmd: "puback", messageId: p.messageId }); }, 150);
    };
    const pub = await client();
    const N = 10;
    for (let i = 0; i < N; ++i) pub.publish("fc/t", `m${i}`, { qos: 1 });
    const deadline = Date.now() + 8000;
    while (got.length < N && Date.now() < deadline) await sleep(20);
    await sleep(300);
    assert.deepEqual(got, Array.from({ length: N }, (_, i) => `m${i}`), "all arrive, in order, once");
    if (PEER) {
      // mosquitto 2.0.11 overshoots the client's Receive Maximum when new
      // messages arrive while others are in flight (seen: 4-6 unacked):
      // [MQTT-3.3.4-9] is only checked against duplex.
      console.log(`mosquitto: max ${maxInflight} unacknowledged with Receive Maximum 2`);
    } else {
      assert.ok(maxInflight <= 2, `never more than 2 unacknowledged (saw ${maxInflight}) [MQTT-3.3.4-9]`);
      assert.equal(maxInflight, 2, "the window of 2 is used");
    }
    raw.destroy();
  }));
