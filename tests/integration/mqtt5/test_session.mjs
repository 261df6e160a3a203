// MQTT 5 session state over time with mqtt.js 5 over WebSocket or TCP
// (MQTT5_TRANSPORT): Message Expiry while a subscriber is offline, Session
// Expiry Interval, Will Delay Interval, DISCONNECT with Will Message (0x04)
// and a normal DISCONNECT discarding the will.
//
//   DUPLEX_BIN=build/daemon/duplex MQTT5_TRANSPORT=ws node --test tests/integration/mqtt5/test_session.mjs
import { test } from "node:test";
import assert from "node:assert/strict";
import { drop, end, publish, sleep, subscribe, withBroker } from "./common.mjs";

test("message expiry while the subscriber is offline", () =>
  withBroker([], async (broker, client) => {
    const id = "exp-sub";
    let sub = await client({ clientId: id, clean: true, properties: { sessionExpiryInterval: 60 } });
    await subscribe(sub, "exp/t", { qos: 1 });
    await end(sub);
    const pub = await client();
    await publish(pub, "exp/t", "short", { qos: 1, properties: { messageExpiryInterval: 1 } });
    await publish(pub, "exp/t", "long", { qos: 1, properties: { messageExpiryInterval: 60 } });
    await publish(pub, "exp/t", "forever", { qos: 1 });
    await sleep(2500);
    sub = await client({ clientId: id, clean: false, properties: { sessionExpiryInterval: 60 } });
    assert.equal(sub.connack.sessionPresent, true);
    const m1 = await sub.messages.next();
    assert.equal(m1.payload, "long", "the expired message is not delivered");
    const left = m1.packet.properties.messageExpiryInterval;
    assert.ok(left >= 56 && left <= 58, `remaining expiry ${left} is 60 minus the ~2.5 s waited`);
    const m2 = await sub.messages.next();
    assert.equal(m2.payload, "forever");
    assert.equal(m2.packet.properties?.messageExpiryInterval, undefined, "no expiry when none was set");
    assert.ok(await sub.messages.none(400));
  }));

test("session expiry 1 s: gone after 2.5 s offline (session_present false)", () =>
  withBroker([], async (broker, client) => {
    const id = "sess-short";
    let c = await client({ clientId: id, clean: true, properties: { sessionExpiryInterval: 1 } });
    assert.equal(c.connack.sessionPresent, false);
    await subscribe(c, "se/short", { qos: 1 });
    await end(c);
    await sleep(2500);
    const pub = await client();
    await publish(pub, "se/short", "lost", { qos: 1 });
    c = await client({ clientId: id, clean: false, properties: { sessionExpiryInterval: 60 } });
    assert.equal(c.connack.sessionPresent, false, "the session expired");
    assert.ok(await c.messages.none(400), "no subscription survived");
  }));

test("session expiry 60 s: session present, queued messages delivered in order", () =>
  withBroker([], async (broker, client) => {
    const id = "sess-long";
    let c = await client({ clientId: id, clean: true, properties: { sessionExpiryInterval: 60 } });
    await subscribe(c, "se/long", { qos: 1 });
    drop(c);  // network loss, no DISCONNECT
    await sleep(300);
    const pub = await client();
    for (const p of ["q1", "q2", "q3"]) await publish(pub, "se/long", p, { qos: 1 });
    await sleep(1200);
    c = await client({ clientId: id, clean: false, properties: { sessionExpiryInterval: 60 } });
    assert.equal(c.connack.sessionPresent, true);
    for (const p of ["q1", "q2", "q3"]) assert.equal((await c.messages.next()).payload, p);
    await publish(pub, "se/long", "live", { qos: 1 });
    assert.equal((await c.messages.next()).payload, "live", "the subscription is still there");
    // Clean Start discards it.
    await end(c);
    c = await client({ clientId: id, clean: true, properties: { sessionExpiryInterval: 60 } });
    assert.equal(c.connack.sessionPresent, false);
  }));

function willOpts(id, delay, extra = {}) {
  return {
    clientId: id,
    properties: { sessionExpiryInterval: 30 },
    will: {
      topic: `will/${id}`, payload: Buffer.from(`gone:${id}`), qos: 1, retain: false,
      properties: { willDelayInterval: delay, userProperties: { why: "test" }, contentType: "text/plain" },
    },
    ...extra,
  };
}

test("will delay 2 s: reconnecting within 1 s cancels the will", () =>
  withBroker([], async (broker, client) => {
    const watcher = await client();
    await subscribe(watcher, "will/#", { qos: 1 });
    const w = await client(willOpts("wd-cancel", 2));
    drop(w);
    await sleep(700);
    const back = await client({ ...willOpts("wd-cancel", 2), clean: false });
    assert.equal(back.connack.sessionPresent, true);
    assert.ok(await watcher.messages.none(2800), "the will was cancelled by the reconnect");
  }));

test("will delay 2 s: staying away publishes it after ~2 s", () =>
  withBroker([], async (broker, client) => {
    const watcher = await client();
    await subscribe(watcher, "will/#", { qos: 1 });
    const w = await client(willOpts("wd-away", 2));
    const t0 = Date.now();
    drop(w);
    assert.ok(await watcher.messages.none(1200), "not before the delay");
    const m = await watcher.messages.next(3500, "delayed will");
    const dt = Date.now() - t0;
    assert.equal(m.topic, "will/wd-away");
    assert.equal(m.payload, "gone:wd-away");
    assert.ok(dt >= 1500 && dt <= 4500, `will after ${dt} ms (delay 2 s, checked each second)`);
    assert.deepEqual({ ...m.packet.properties.userProperties }, { why: "test" });
    assert.equal(m.packet.properties.contentType, "text/plain");
  }));

test("DISCONNECT 0x04 publishes the will at once; normal DISCONNECT discards it", () =>
  withBroker([], async (broker, client) => {
    const watcher = await client();
    await subscribe(watcher, "will/#", { qos: 1 });
    const a = await client(willOpts("wd-04", 0));
    const t0 = Date.now();
    await end(a, false, { reasonCode: 0x04 });
    const m = await watcher.messages.next(2000, "will after DISCONNECT 0x04");
    assert.equal(m.payload, "gone:wd-04");
    assert.ok(Date.now() - t0 < 1000, "published at once");
    const b = await client(willOpts("wd-00", 0));
    await end(b, false, { reasonCode: 0x00 });
    const c = await client(willOpts("wd-00d", 1));
    await end(c, false, { reasonCode: 0x00 });
    assert.ok(await watcher.messages.none(2500), "a normal DISCONNECT discards the will (with or without delay)");
  }));
