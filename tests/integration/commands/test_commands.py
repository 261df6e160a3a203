"""Commands end to end against the daemon: the same handlers (the LED
commands and the daemon's --test-commands "sleep"/"hang") over a plain
WebSocket (text and JSON), MQTT 3.1.1, MQTT 5 request/response and STOMP
reply-to, and the notification each result publishes on led/events."""

import json
import os
import queue
import socket
import sys
import threading
import time
import unittest
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from duplex_fixture import Broker, PahoClient  # noqa: E402
from test_websocket_raw import OP_BIN, OP_PING, OP_TEXT, RawWs  # noqa: E402

TIMEOUT_MS = 1000  # --command-timeout-ms for the "hang" test


def start_broker():
    return Broker(listeners=("ws", "mqtt", "stomp"),
                  extra_args=["--test-commands", "--led", "simulated",
                              "--command-timeout-ms", str(TIMEOUT_MS)]).start()


class CommandWs(RawWs):
    """A WebSocket without a subprotocol: the command channel."""

    def __init__(self, port):
        super().__init__(port, path="/", protocols=None)
        assert self.status == 101, self.status_line

    def ask(self, text, timeout=5.0):
        self.send_frame(OP_TEXT, text.encode())
        return self.recv_text(timeout)

    def recv_text(self, timeout=5.0):
        op, data = self.recv_message(timeout)
        assert op == OP_TEXT, "expected a text frame, got opcode %d" % op
        return data.decode()

    def ask_json(self, obj, timeout=5.0):
        return json.loads(self.ask(json.dumps(obj), timeout))


class Base(unittest.TestCase):
    broker = None

    @classmethod
    def setUpClass(cls):
        cls.broker = start_broker()

    @classmethod
    def tearDownClass(cls):
        cls.broker.stop()

    def ws(self):
        c = CommandWs(self.broker.ws_port)
        self.addCleanup(c.sock.close)
        return c

    def paho(self, **kw):
        c = PahoClient(self.broker.mqtt_port, "it-cmd-" + uuid.uuid4().hex[:8], **kw)
        self.addCleanup(c.stop)
        return c


class TestWebSocketText(Base):
    def test_on_off_toggle_status(self):
        c = self.ws()
        self.assertEqual(c.ask("on"), "on")
        self.assertEqual(c.ask("status"), "on")
        self.assertEqual(c.ask("toggle"), "off")
        self.assertEqual(c.ask("  status \n"), "off")

    def test_unknown_command(self):
        self.assertEqual(self.ws().ask("explode"), "error: unknown command 'explode' (try 'help')")

    def test_empty_command(self):
        self.assertTrue(self.ws().ask("   ").startswith("error: empty command"))

    def test_help_lists_commands_with_descriptions(self):
        lines = self.ws().ask("help").split("\n")
        names = [l.split(":")[0] for l in lines]
        for n in ("help", "on", "off", "toggle", "status", "sleep", "hang"):
            self.assertIn(n, names)
        self.assertIn("on: turn the LED on", lines)

    def test_binary_message_is_refused(self):
        c = self.ws()
        c.send_frame(OP_BIN, b"on")
        self.assertTrue(c.recv_text().startswith("error: binary messages"))
        self.assertEqual(c.ask("status") in ("on", "off"), True)

    def test_fragmented_message_is_one_request(self):
        c = self.ws()
        c.send_frame(OP_TEXT, b"sta", fin=False)
        c.send_frame(0, b"tus", fin=True)
        self.assertIn(c.recv_text(), ("on", "off"))

    def test_async_handler(self):
        self.assertEqual(self.ws().ask("sleep 50"), "50")

    def test_timeout(self):
        t0 = time.monotonic()
        reply = self.ws().ask("hang", timeout=TIMEOUT_MS / 1000 + 3)
        self.assertEqual(reply, "error: timeout: 'hang' did not reply within %d ms" % TIMEOUT_MS)
        self.assertGreaterEqual(time.monotonic() - t0, TIMEOUT_MS / 1000 - 0.05)


class TestWebSocketJson(Base):
    def test_request_response(self):
        r = self.ws().ask_json({"id": 7, "command": "on", "args": {}})
        self.assertEqual(r, {"id": 7, "ok": True, "result": "on"})

    def test_string_id_is_echoed(self):
        r = self.ws().ask_json({"id": "abc", "command": "status"})
        self.assertEqual(r["id"], "abc")
        self.assertTrue(r["ok"])

    def test_errors(self):
        c = self.ws()
        r = json.loads(c.ask('{"id": 1, "command": '))
        self.assertEqual(r["id"], None)
        self.assertFalse(r["ok"])
        self.assertTrue(r["error"].startswith("bad JSON at offset"), r["error"])
        r = c.ask_json({"id": 2})
        self.assertEqual(r, {"id": 2, "ok": False, "error": 'missing "command" (a string)'})
        r = c.ask_json({"id": 3, "command": 5})
        self.assertEqual(r["error"], '"command" must be a non-empty string')
        r = c.ask_json({"id": 4, "command": "nope"})
        self.assertEqual(r, {"id": 4, "ok": False, "error": "unknown command 'nope' (try 'help')"})
        r = c.ask_json({"id": [1], "command": "status"})
        self.assertEqual(r["error"], '"id" must be a number or a string')

    def test_concurrent_requests_are_correlated(self):
        c = self.ws()
        # Sent at once; the slow ones answer last, each with its own id.
        delays = {1: 600, 2: 50, 3: 300, 4: 0}
        for i, ms in delays.items():
            c.send_frame(OP_TEXT, json.dumps({"id": i, "command": "sleep", "args": ms}).encode())
        c.send_frame(OP_TEXT, json.dumps({"id": 5, "command": "status"}).encode())
        replies = [json.loads(c.recv_text()) for _ in range(5)]
        by_id = {r["id"]: r for r in replies}
        self.assertEqual(set(by_id), {1, 2, 3, 4, 5})
        for i, ms in delays.items():
            self.assertEqual(by_id[i], {"id": i, "ok": True, "result": ms})
        order = [r["id"] for r in replies]
        self.assertLess(order.index(2), order.index(3))
        self.assertLess(order.index(3), order.index(1))

    def test_timeout_among_others(self):
        c = self.ws()
        c.send_frame(OP_TEXT, b'{"id": "h", "command": "hang"}')
        c.send_frame(OP_TEXT, b'{"id": "s", "command": "status"}')
        first = json.loads(c.recv_text())
        self.assertEqual(first["id"], "s")
        second = json.loads(c.recv_text(TIMEOUT_MS / 1000 + 3))
        self.assertEqual(second, {"id": "h", "ok": False,
                                  "error": "timeout: 'hang' did not reply within %d ms" % TIMEOUT_MS})

    def test_close_before_reply(self):
        c = self.ws()
        c.send_frame(OP_TEXT, b'{"id": 1, "command": "sleep", "args": 200}')
        c.sock.close()
        time.sleep(0.4)
        self.assertTrue(self.broker.running())
        self.assertEqual(self.ws().ask("sleep 1"), "1")


class TestIdleBound(unittest.TestCase):
    """Idle command connections (they once had no bound): with
    --max-keep-alive 1 a silent one is pinged after ~1 s and closed if it
    does not answer; one that answers the pings (as every WebSocket stack
    does) stays."""

    @classmethod
    def setUpClass(cls):
        cls.broker = Broker(listeners=("ws",), extra_args=["--max-keep-alive", "1"]).start()

    @classmethod
    def tearDownClass(cls):
        cls.broker.stop()

    def ws(self):
        c = CommandWs(self.broker.ws_port)
        self.addCleanup(c.sock.close)
        return c

    def test_silent_connection_is_pinged_then_closed(self):
        c = self.ws()
        fin, op, payload = c.recv_frame(timeout=4)
        self.assertEqual(op, OP_PING)
        # Not answered: closed (close frame or EOF) within another ~1.5 s.
        self.assertTrue(c.expect_closed(timeout=5))

    def test_connection_answering_pings_stays(self):
        c = self.ws()
        # recv_message answers pings; nothing else arrives, nothing closes.
        self.assertFalse(c.expect_closed(timeout=4))
        self.assertEqual(c.ask("help").split()[0] != "", True)


class TestNotifications(Base):
    def test_result_published_on_events_and_status_retained(self):
        sub = self.paho()
        sub.subscribe("led/#", 1)
        # Retained state first (whatever it is now).
        m = sub.get()
        self.assertIsNotNone(m)
        self.assertEqual(m.topic, "led/status")
        self.assertTrue(m.retain)
        c = self.ws()
        c.ask("off")
        self.assertEqual(c.ask("on"), "on")
        seen = {}
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and not ("led/events" in seen and seen.get("led/status") == b"on"):
            m = sub.get(0.5)
            if m is None:
                continue
            if m.topic == "led/events" and json.loads(m.payload).get("command") == "on":
                seen["led/events"] = json.loads(m.payload)
            elif m.topic == "led/status":
                seen["led/status"] = m.payload
        self.assertEqual(seen.get("led/status"), b"on")
        ev = seen.get("led/events")
        self.assertIsNotNone(ev)
        self.assertEqual(ev["ok"], True)
        self.assertEqual(ev["result"], "on")
        # The path only: every events subscriber reads this, so no address.
        self.assertEqual(ev["source"], "ws")
        # A subscriber arriving later sees the state at once.
        late = self.paho()
        late.subscribe("led/status", 0)
        m = late.get()
        self.assertEqual((m.topic, m.payload, m.retain), ("led/status", b"on", True))


class TestMqtt311(Base):
    def test_reply_to_in_payload(self):
        c = self.paho()
        c.subscribe("it/replies/1", 1)
        c.publish("duplex/cmd/on", json.dumps({"reply_to": "it/replies/1", "id": 42, "args": None}), 1)
        m = c.get()
        self.assertIsNotNone(m, "no reply")
        self.assertEqual(m.topic, "it/replies/1")
        self.assertEqual(json.loads(m.payload), {"id": 42, "ok": True, "result": "on"})

    def test_default_reply_topic(self):
        c = self.paho()
        c.subscribe("duplex/reply/status", 1)
        c.publish("duplex/cmd/status", "", 1)
        m = c.get()
        self.assertIsNotNone(m, "no reply")
        r = json.loads(m.payload)
        self.assertTrue(r["ok"])
        self.assertIn(r["result"], ("on", "off"))

    def test_plain_payload_is_args(self):
        c = self.paho()
        c.subscribe("duplex/reply/sleep", 1)
        c.publish("duplex/cmd/sleep", "20", 1)
        m = c.get()
        self.assertEqual(json.loads(m.payload), {"id": None, "ok": True, "result": 20})

    def test_unknown_command_and_bad_json(self):
        c = self.paho()
        c.subscribe("duplex/reply/+", 1)
        c.publish("duplex/cmd/nope", "", 1)
        m = c.get()
        self.assertEqual((m.topic, json.loads(m.payload)["error"]),
                         ("duplex/reply/nope", "unknown command 'nope' (try 'help')"))
        c.publish("duplex/cmd/on", "{bad", 1)
        m = c.get()
        self.assertTrue(json.loads(m.payload)["error"].startswith("bad JSON"))

    def test_reply_to_command_topic_is_ignored(self):
        c = self.paho()
        c.subscribe("duplex/#", 0)
        c.publish("duplex/cmd/status", json.dumps({"reply_to": "duplex/cmd/status"}), 0)
        m = c.get(1.0)  # our own request comes back, nothing else
        self.assertEqual(m.topic, "duplex/cmd/status")
        self.assertIsNone(c.get(0.5))
        self.assertTrue(self.broker.wait_for_log(r"reply topic 'duplex/cmd/status' ignored", 2))


class TestMqtt5(Base):
    # MQTT 5 request/response: Response Topic + Correlation Data properties.
    def test_response_topic_and_correlation_data(self):
        import paho.mqtt.client as mqtt
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties
        got = queue.Queue()
        connected = threading.Event()
        subscribed = threading.Event()
        c = mqtt.Client(client_id="it-cmd-v5", protocol=mqtt.MQTTv5)
        c.on_connect = lambda cl, u, f, rc, p=None: connected.set()
        c.on_subscribe = lambda cl, u, mid, rcs, p=None: subscribed.set()
        c.on_message = lambda cl, u, m: got.put(m)
        c.connect("127.0.0.1", self.broker.mqtt_port)
        c.loop_start()
        self.addCleanup(c.loop_stop)
        self.addCleanup(c.disconnect)
        self.assertTrue(connected.wait(5))
        c.subscribe("it/v5/replies", 1)
        self.assertTrue(subscribed.wait(5))
        props = Properties(PacketTypes.PUBLISH)
        props.ResponseTopic = "it/v5/replies"
        props.CorrelationData = b"\x00corr-1\xff"
        c.publish("duplex/cmd/toggle", "", 1, properties=props)
        m = got.get(timeout=5)
        self.assertEqual(m.topic, "it/v5/replies")
        self.assertEqual(m.properties.CorrelationData, b"\x00corr-1\xff")
        r = json.loads(m.payload)
        self.assertTrue(r["ok"])
        self.assertIn(r["result"], ("on", "off"))


class TestStomp(Base):
    def test_reply_to_and_correlation_id(self):
        import stomp
        got = queue.Queue()

        class Listener(stomp.ConnectionListener):
            def on_message(self, frame):
                got.put(frame)

        conn = stomp.Connection12([("127.0.0.1", self.broker.port("stomp"))])
        conn.set_listener("", Listener())
        conn.connect(wait=True)
        self.addCleanup(conn.disconnect)
        conn.subscribe("/topic/it/stomp/replies", id="r", ack="auto")
        time.sleep(0.1)
        conn.send("/topic/duplex/cmd/on", "", headers={"reply-to": "/topic/it/stomp/replies",
                                                      "correlation-id": "c-17"})
        f = got.get(timeout=5)
        self.assertEqual(f.headers.get("correlation-id"), "c-17")
        self.assertEqual(json.loads(f.body), {"id": None, "ok": True, "result": "on"})

    def test_reply_to_temp_queue(self):
        import stomp
        got = queue.Queue()

        class Listener(stomp.ConnectionListener):
            def on_message(self, frame):
                got.put(frame)

        conn = stomp.Connection12([("127.0.0.1", self.broker.port("stomp"))])
        conn.set_listener("", Listener())
        conn.connect(wait=True)
        self.addCleanup(conn.disconnect)
        conn.subscribe("/temp-queue/answers", id="t", ack="auto")
        time.sleep(0.1)
        conn.send("/topic/duplex/cmd/status", "", headers={"reply-to": "/temp-queue/answers"})
        f = got.get(timeout=5)
        self.assertTrue(json.loads(f.body)["ok"])

    def test_events_reach_stomp_subscribers(self):
        import stomp
        got = queue.Queue()

        class Listener(stomp.ConnectionListener):
            def on_message(self, frame):
                got.put(frame)

        conn = stomp.Connection12([("127.0.0.1", self.broker.port("stomp"))])
        conn.set_listener("", Listener())
        conn.connect(wait=True)
        self.addCleanup(conn.disconnect)
        conn.subscribe("/topic/led/events", id="e", ack="auto")
        time.sleep(0.1)
        self.ws().ask("off")
        f = got.get(timeout=5)
        ev = json.loads(f.body)
        self.assertEqual((ev["command"], ev["ok"], ev["result"]), ("off", True, "off"))


if __name__ == "__main__":
    unittest.main(verbosity=2)
