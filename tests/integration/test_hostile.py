"""Hostile clients against the daemon, each with a real client library or a
raw socket, each followed by proof that the broker is still up and serving:

- JSON nested ~120,000 levels deep (once a SIGSEGV in the recursive
  RapidJSON parser) published to duplex/cmd/<name> over MQTT (paho-mqtt)
  and STOMP (stomp.py), sent as a plain-WebSocket command, and inside a
  request's "args": refused ("JSON nested deeper than 64 levels").
- A 65,000-level topic filter and a publish walking it (once a stack
  overflow in the recursive matcher): SUBACK failure, the publisher closed.
- A paho-mqtt 3.1.1 client with 100 QoS 2 publishes in flight (more than
  receive_maximum 64, once a disconnect loop): all delivered once.
- A raw WebSocket client flooding ping frames without reading our pongs:
  the broker's memory stays flat (it stops reading that client) and other
  clients go on.
"""

import os
import queue
import socket
import sys
import threading
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from duplex_fixture import (Broker, PahoClient, connect_packet,  # noqa: E402
                            require_module)
from test_websocket_raw import OP_TEXT, RawWs  # noqa: E402

DEEP = "[" * 120000  # ~120 KB of '[': well under max_packet_size (256 KiB)
DEPTH_ERROR = "JSON nested deeper than 64 levels"


def vm_rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS for pid %d" % pid)


class Hostile(unittest.TestCase):
    def setUp(self):
        self.mqtt = require_module("paho.mqtt.client", "paho-mqtt",
                                   "apt install python3-paho-mqtt")
        self.broker = Broker(listeners=("ws", "mqtt", "stomp"),
                             extra_args=["--test-commands"]).start()
        if self.broker.is_peer:
            self.skipTest("duplex-specific (commands, STOMP)")
        self.pid = self.broker.proc.pid

    def tearDown(self):
        rc = self.broker.stop()
        self.assertEqual(rc, 0, "broker exit status (negative: killed by "
                                "that signal)")

    # -- helpers -----------------------------------------------------------
    def paho(self, name, **kw):
        c = PahoClient(self.broker.mqtt_port, "%s-%s" % (name, uuid.uuid4().hex[:6]), **kw)
        self.addCleanup(c.stop)
        return c

    def replies(self):
        """A paho client subscribed to every command reply."""
        w = self.paho("replies")
        w.subscribe("duplex/reply/#", 1)
        return w

    def wait_reply(self, watcher, topic, timeout=5.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = watcher.get(deadline - time.monotonic())
            if m is not None and m.topic == topic:
                return m.payload.decode("utf-8", "replace")
        return None

    def assert_alive(self):
        """The daemon runs, routes a publish and answers a command."""
        self.assertTrue(self.broker.running(), "broker died:\n" +
                        self.broker.log_text()[-3000:])
        c = self.paho("alive")
        self.assertTrue(c.roundtrip("alive/check"), "publish round trip")
        c.subscribe("duplex/reply/sleep", 1)
        c.publish("duplex/cmd/sleep", "1", 1)
        reply = self.wait_reply(c, "duplex/reply/sleep")
        self.assertIsNotNone(reply, "no reply to a normal command")
        self.assertIn('"ok":true', reply)

    # -- 1. JSON depth ---------------------------------------------------------
    def test_json_depth_over_mqtt_is_refused_and_broker_stays_up(self):
        w = self.replies()
        pub = self.paho("deep-json")
        pub.publish("duplex/cmd/x", DEEP, 1)
        pub.publish("duplex/cmd/sleep", '{"id": 1, "args": ' + DEEP + "}", 1)
        reply = self.wait_reply(w, "duplex/reply/sleep")
        self.assertIsNotNone(reply, "no reply to the deep request")
        self.assertIn(DEPTH_ERROR, reply)
        self.assertFalse(pub.disconnected.is_set())
        self.assert_alive()

    def test_json_depth_over_stomp_is_refused_and_broker_stays_up(self):
        stomp = require_module("stomp", "stomp.py", "apt install python3-stomp")
        w = self.replies()
        conn = stomp.Connection([("127.0.0.1", self.broker.port("stomp"))],
                                heartbeats=(0, 0))
        errors = []

        class L(stomp.ConnectionListener):
            def on_error(self, frame):
                errors.append(frame)

        conn.set_listener("l", L())
        conn.connect(wait=True)
        self.addCleanup(lambda: conn.is_connected() and conn.disconnect())
        conn.send("/topic/duplex/cmd/x", DEEP)
        conn.send("/topic/duplex/cmd/sleep", '{"id": 2, "args": ' + DEEP + "}")
        reply = self.wait_reply(w, "duplex/reply/sleep")
        self.assertIsNotNone(reply, "no reply to the deep STOMP request")
        self.assertIn(DEPTH_ERROR, reply)
        self.assertEqual(errors, [])
        self.assertTrue(conn.is_connected())
        self.assert_alive()

    def test_json_depth_over_websocket_commands_is_refused_and_broker_stays_up(self):
        c = RawWs(self.broker.ws_port, path="/", protocols=None)
        self.addCleanup(c.close)
        self.assertEqual(c.status, 101, c.status_line)

        def ask(text):
            c.send_frame(OP_TEXT, text.encode())
            op, data = c.recv_message(5.0)
            self.assertEqual(op, OP_TEXT)
            return data.decode()

        # Text commands: a command named "[[[...", and args that are not
        # JSON within the depth bound (so taken as a string): whatever they
        # answer, they are answered and nothing crashes.
        ask(DEEP)
        ask("sleep " + DEEP)
        self.assertIn(DEPTH_ERROR, ask('{"id": 3, "command": "sleep", "args": ' + DEEP + "}"))
        self.assertIn(DEPTH_ERROR, ask('{"id": 4, "command": ' + DEEP + "}"))
        # The same connection still works.
        self.assertEqual(ask("sleep 1"), "1")
        self.assert_alive()

    # -- 2. topic depth --------------------------------------------------------
    def test_max_topic_levels_65000_level_filter_and_publish_broker_survives(self):
        mqtt = self.mqtt
        granted = queue.Queue()
        gone = threading.Event()
        c = mqtt.Client(client_id="deep-topic", protocol=mqtt.MQTTv311)
        c.on_subscribe = lambda cl, u, mid, g: granted.put(tuple(g))
        c.on_disconnect = lambda cl, u, rc: gone.set()
        c.reconnect_delay_set(30, 30)  # no reconnect within the test
        c.connect("127.0.0.1", self.broker.mqtt_port, 30)
        c.loop_start()
        self.addCleanup(c.loop_stop)
        slashes = "/" * 65000
        c.subscribe(slashes, 0)
        self.assertEqual(granted.get(timeout=5), (128,), "SUBACK failure")
        c.subscribe("l/" * 200 + "x", 0)  # 201 levels
        self.assertEqual(granted.get(timeout=5), (128,), "SUBACK failure")
        watcher = self.paho("watcher")
        watcher.subscribe("#", 0)
        c.publish(slashes, "x", 0)
        self.assertTrue(gone.wait(5), "the broker keeps a client that "
                        "published on a 65,001-level topic")
        c.disconnect()
        self.assertTrue(self.broker.running(), "broker died")
        m = watcher.get(0.3)
        self.assertTrue(m is None or m.topic != slashes, "deep topic routed")
        self.assertFalse(watcher.disconnected.is_set())
        self.assert_alive()

    # -- 6. 3.1.1 QoS 2 beyond receive_maximum ----------------------------------------
    def test_paho_311_100_qos2_in_flight_all_delivered_once(self):
        mqtt = self.mqtt
        sub = self.paho("q2-sub")
        sub.subscribe("q2/t", 2)
        disconnects = []
        connected = threading.Event()
        pub = mqtt.Client(client_id="q2-pub-" + uuid.uuid4().hex[:6],
                          protocol=mqtt.MQTTv311)
        pub.max_inflight_messages_set(100)
        pub.on_connect = lambda c, u, f, rc: rc == 0 and connected.set()
        pub.on_disconnect = lambda c, u, rc: disconnects.append(rc)
        pub.connect("127.0.0.1", self.broker.mqtt_port, 30)
        deadline = time.monotonic() + 5
        while not connected.is_set() and time.monotonic() < deadline:
            pub.loop(0.1)
        self.assertTrue(connected.is_set())
        # No network loop while publishing: all 100 PUBLISHes go out before
        # any PUBREL, so the broker holds 100 unreleased QoS 2 ids.
        infos = [pub.publish("q2/t", "m%d" % i, 2) for i in range(100)]
        pub.loop_start()
        self.addCleanup(pub.loop_stop)
        def done(info):
            try:
                return info.is_published()
            except RuntimeError:  # paho: "The connection was lost."
                return False

        deadline = time.monotonic() + 10  # one deadline for all 100 flows
        while (not all(done(i) for i in infos) and
               time.monotonic() < deadline):
            time.sleep(0.05)
        self.assertEqual(disconnects, [], "publisher disconnected")
        self.assertEqual(sum(done(i) for i in infos), 100,
                         "QoS 2 flows completed of 100")
        got = []
        deadline = time.monotonic() + 10
        while len(got) < 100 and time.monotonic() < deadline:
            m = sub.get(deadline - time.monotonic())
            if m is not None:
                got.append(m.payload.decode())
        extra = sub.get(0.3)  # a duplicate would come right behind
        if extra is not None:
            got.append(extra.payload.decode())
        self.assertEqual(sorted(got), sorted("m%d" % i for i in range(100)))
        self.assertEqual(disconnects, [], "publisher disconnected")
        self.assertFalse(self.broker.log_contains(r"q2-pub.*closing"),
                         "the broker closed the publisher")
        pub.disconnect()
        self.assert_alive()

    # -- 7. WebSocket ping flood ---------------------------------------------------
    def test_websocket_ping_flood_without_reading_keeps_memory_flat(self):
        flood = RawWs(self.broker.ws_port)  # subprotocol mqtt
        self.addCleanup(flood.close)
        self.assertEqual(flood.status, 101, flood.status_line)
        flood.send_binary(connect_packet("flood"))
        _, connack = flood.recv_message(5.0)
        self.assertEqual(connack, b"\x20\x02\x00\x00")
        other = self.paho("other")
        self.assertTrue(other.roundtrip("other/t"))
        rss_before = vm_rss_kib(self.pid)

        # Ping frames (125-byte payload, mask key 0 so the bytes need no
        # masking work here), ~1 MiB per send, up to 48 MiB or until the
        # broker stops reading us for 2 s.
        ping = bytes([0x89, 0x80 | 125]) + b"\0\0\0\0" + b"p" * 125
        chunk = ping * (1024 * 1024 // len(ping))
        limit = 48 * 1024 * 1024
        sent = [0]

        def run():
            s = flood.sock
            s.settimeout(2.0)
            view = memoryview(chunk)
            try:
                while sent[0] < limit:
                    off = 0
                    while off < len(chunk):
                        n = s.send(view[off:])
                        off += n
                        sent[0] += n
            except (socket.timeout, OSError):
                pass

        t = threading.Thread(target=run, daemon=True)
        t.start()
        # Meanwhile another client's round trip works.
        time.sleep(0.2)
        self.assertTrue(other.roundtrip("other/t2"),
                        "round trip during the ping flood")
        t.join(30)
        self.assertFalse(t.is_alive(), "flood sender did not stop")
        rss_after = vm_rss_kib(self.pid)
        sys.stderr.write("ping flood: %d bytes sent, VmRSS %d -> %d KiB\n" %
                         (sent[0], rss_before, rss_after))
        # Under AddressSanitizer freed memory sits in its quarantine (and
        # every allocation has redzones), so RSS says nothing about what the
        # broker keeps: the bound is checked in the native suite only.
        if not os.environ.get("DUPLEX_SANITIZED"):
            self.assertLess(rss_after - rss_before, 8 * 1024,
                            "broker memory grew by %d KiB after %d bytes of "
                            "pings" % (rss_after - rss_before, sent[0]))
        self.assertTrue(other.roundtrip("other/t3"),
                        "round trip after the ping flood")
        flood.close()
        self.assert_alive()


if __name__ == "__main__":
    unittest.main(verbosity=2)
