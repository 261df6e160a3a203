"""STOMP over TCP with stomp.py 8 (Debian python3-stomp) and a raw socket
client: every frame type, ack modes, NACK, transactions, receipts,
heart-beats, queues with competing consumers, temp queues, retained
messages, and MQTT <-> STOMP with paho-mqtt 1.6."""

import os
import queue
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from stomp_raw import BROKER_ARGS, Broker, RawStomp  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from duplex_fixture import PahoClient  # noqa: E402

import stomp  # noqa: E402


class Collector(stomp.ConnectionListener):
    def __init__(self):
        self.messages = queue.Queue()
        self.errors = queue.Queue()
        self.receipts = queue.Queue()

    def on_message(self, frame):
        self.messages.put(frame)

    def on_error(self, frame):
        self.errors.put(frame)

    def on_receipt(self, frame):
        self.receipts.put(frame.headers.get("receipt-id"))

    def get(self, timeout=3.0):
        try:
            return self.messages.get(timeout=timeout)
        except queue.Empty:
            return None

    def get_n(self, n, timeout=3.0):
        out = []
        deadline = time.monotonic() + timeout
        while len(out) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            m = self.get(left)
            if m is None:
                break
            out.append(m)
        return out

    def none(self, wait=0.4):
        return self.get(wait) is None

    def receipt(self, rid, timeout=3.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.receipts.get(timeout=deadline - time.monotonic()) == rid:
                    return True
            except queue.Empty:
                return False
        return False


class StompTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.broker = Broker(listeners=BROKER_ARGS).start()
        cls.port = cls.broker.port("stomp")

    @classmethod
    def tearDownClass(cls):
        cls.broker.stop()

    def setUp(self):
        self.conns = []

    def tearDown(self):
        for c in self.conns:
            try:
                if c.is_connected():
                    c.disconnect()
            except Exception:
                pass

    def client(self, version="1.2", heartbeats=(0, 0), login=None):
        cls = {"1.0": stomp.Connection10, "1.1": stomp.Connection11, "1.2": stomp.Connection12}[version]
        kwargs = {} if version == "1.0" else {"heartbeats": heartbeats}
        c = cls([("127.0.0.1", self.port)], **kwargs)
        col = Collector()
        c.set_listener("c", col)
        c.connect(login, "secret" if login else None, wait=True, headers={"host": "localhost"})
        self.conns.append(c)
        return c, col

    def raw(self):
        r = RawStomp(self.port)
        self.addCleanup(r.close)
        return r

    # --- sessions ---------------------------------------------------------
    def test_version_negotiation(self):
        for versions, expect in (("1.0", "1.0"), ("1.1", "1.1"), ("1.2", "1.2"),
                                 ("1.0,1.1,1.2", "1.2"), ("1.1,2.0", "1.1")):
            r = self.raw()
            connected = r.connect(versions)
            self.assertEqual(connected.get("version"), expect, versions)
            self.assertTrue(connected.get("session"))
        # No accept-version header: STOMP 1.0.
        r = self.raw()
        r.send_frame("CONNECT", [("login", "x"), ("passcode", "y")])
        self.assertEqual(r.expect("CONNECTED").get("version"), "1.0")
        # The STOMP frame works like CONNECT (1.1+).
        r = self.raw()
        r.send_frame("STOMP", [("accept-version", "1.2"), ("host", "any-host")])
        self.assertEqual(r.expect("CONNECTED").get("version"), "1.2")

    def test_stomp_py_every_version(self):
        for v in ("1.0", "1.1", "1.2"):
            c, col = self.client(v, login="user")
            c.subscribe("/topic/v/" + v.replace(".", ""), id="s1", ack="auto")
            c.send("/topic/v/" + v.replace(".", ""), "hello " + v, receipt="r-send")
            self.assertTrue(col.receipt("r-send"))
            m = col.get()
            self.assertIsNotNone(m, v)
            self.assertEqual(m.body, "hello " + v)
            self.assertEqual(m.headers["destination"], "/topic/v/" + v.replace(".", ""))
            self.assertEqual(m.headers["content-length"], str(len("hello " + v)))
            c.disconnect()

    # --- SEND / SUBSCRIBE / UNSUBSCRIBE / RECEIPT ---------------------------
    def test_topic_wildcards_and_headers(self):
        c, col = self.client()
        c.subscribe("/topic/sensor/+/temp", id="plus", ack="auto")
        c.subscribe("/topic/sensor/#", id="hash", ack="auto", headers={"receipt": "sub-r"})
        self.assertTrue(col.receipt("sub-r"))
        c.send("/topic/sensor/kitchen/temp", "21.5", content_type="text/plain",
               headers={"x-unit": "C", "x-room": "kitchen"})
        got = col.get_n(2)
        self.assertEqual(sorted(m.headers["subscription"] for m in got), ["hash", "plus"])
        for m in got:
            self.assertEqual(m.body, "21.5")
            self.assertEqual(m.headers["content-type"], "text/plain")
            self.assertEqual(m.headers["x-unit"], "C")
            self.assertEqual(m.headers["x-room"], "kitchen")
            self.assertNotIn("persistent", m.headers)
        c.unsubscribe("plus", headers={"receipt": "unsub-r"})
        self.assertTrue(col.receipt("unsub-r"))
        c.send("/topic/sensor/hall/temp", "19")
        m = col.get()
        self.assertEqual(m.headers["subscription"], "hash")
        self.assertTrue(col.none())

    def test_binary_body_with_nul(self):
        r = self.raw()
        r.connect()
        r.send_frame("SUBSCRIBE", [("id", "b"), ("destination", "/topic/bin")])
        body = b"\x00\x01\xff\x00end"
        r.send_frame("SEND", [("destination", "/topic/bin"), ("content-length", str(len(body))),
                              ("receipt", "r")], body)
        r.expect("RECEIPT")
        m = r.expect("MESSAGE")
        self.assertEqual(m.body, body)
        self.assertEqual(m.get("content-length"), str(len(body)))

    def test_disconnect_receipt(self):
        r = self.raw()
        r.connect()
        r.send_frame("DISCONNECT", [("receipt", "bye-1")])
        self.assertEqual(r.expect("RECEIPT").get("receipt-id"), "bye-1")
        self.assertTrue(r.wait_eof())

    # --- ack modes ------------------------------------------------------------
    def _fill(self, dest, n, prefix="m"):
        c, col = self.client()
        for i in range(n):
            c.send(dest, "%s%d" % (prefix, i))
        c.disconnect()

    def test_ack_client_is_cumulative(self):
        self._fill("/queue/ack-client", 3)
        c, col = self.client()
        c.subscribe("/queue/ack-client", id="s", ack="client")
        got = col.get_n(3)
        self.assertEqual([m.body for m in got], ["m0", "m1", "m2"])
        self.assertIn("ack", got[2].headers)
        c.ack(got[2].headers["ack"], receipt="ack-r")  # acknowledges m0..m2
        self.assertTrue(col.receipt("ack-r"))
        c.disconnect()
        c2, col2 = self.client()
        c2.subscribe("/queue/ack-client", id="s", ack="client")
        self.assertTrue(col2.none(), "cumulatively acked messages came back")

    def test_ack_client_individual(self):
        self._fill("/queue/ack-ind", 3)
        c, col = self.client()
        c.subscribe("/queue/ack-ind", id="s", ack="client-individual")
        got = col.get_n(3)
        self.assertEqual(len(got), 3)
        c.ack(got[0].headers["ack"])
        c.ack(got[2].headers["ack"], receipt="r")
        self.assertTrue(col.receipt("r"))
        c.disconnect()  # m1 unacked: back to the queue
        c2, col2 = self.client()
        c2.subscribe("/queue/ack-ind", id="s", ack="client-individual")
        m = col2.get()
        self.assertEqual(m.body, "m1")
        self.assertEqual(m.headers.get("redelivered"), "true")
        self.assertTrue(col2.none())

    def test_ack_in_stomp11_uses_message_id(self):
        self._fill("/queue/ack11", 1)
        c, col = self.client("1.1")
        c.subscribe("/queue/ack11", id="s", ack="client-individual")
        m = col.get()
        self.assertNotIn("ack", m.headers)
        c.ack(m.headers["message-id"], "s", receipt="r11")
        self.assertTrue(col.receipt("r11"))

    def test_unknown_ack_is_an_error(self):
        r = self.raw()
        r.connect()
        r.send_frame("ACK", [("id", "999"), ("receipt", "x")])
        e = r.expect("ERROR")
        self.assertIn("unknown", e.get("message"))
        self.assertEqual(e.get("receipt-id"), "x")
        self.assertTrue(r.wait_eof())

    def test_nack_redelivers_to_another_consumer(self):
        a, cola = self.client()
        b, colb = self.client()
        a.subscribe("/queue/nack", id="a", ack="client-individual", headers={"receipt": "ra"})
        self.assertTrue(cola.receipt("ra"))
        p, _ = self.client()
        p.send("/queue/nack", "job")
        m = cola.get()
        self.assertEqual(m.body, "job")
        b.subscribe("/queue/nack", id="b", ack="client-individual", headers={"receipt": "rb"})
        self.assertTrue(colb.receipt("rb"))
        a.nack(m.headers["ack"])
        m2 = colb.get()
        self.assertIsNotNone(m2, "NACKed message not redelivered to the other consumer")
        self.assertEqual(m2.body, "job")
        self.assertEqual(m2.headers.get("redelivered"), "true")
        self.assertTrue(cola.none())

    def test_nack_topic_message_is_dropped(self):
        c, col = self.client()
        c.subscribe("/topic/nack/t", id="s", ack="client")
        c.send("/topic/nack/t", "x")
        m = col.get()
        c.nack(m.headers["ack"], receipt="nr")
        self.assertTrue(col.receipt("nr"))
        self.assertTrue(col.none())

    def test_prefetch_window_on_client_ack(self):
        self._fill("/queue/prefetch", 5)
        c, col = self.client()
        c.subscribe("/queue/prefetch", id="s", ack="client-individual",
                    headers={"prefetch-count": "2"})
        got = col.get_n(5, timeout=1.0)
        self.assertEqual([m.body for m in got], ["m0", "m1"])
        c.ack(got[0].headers["ack"])
        m = col.get()
        self.assertEqual(m.body, "m2")
        self.assertTrue(col.none())

    # --- transactions ------------------------------------------------------------
    def test_transaction_commit_and_abort(self):
        c, col = self.client()
        c.subscribe("/topic/tx", id="s", ack="auto")
        tx = c.begin()
        c.send("/topic/tx", "one", transaction=tx)
        c.send("/topic/tx", "two", transaction=tx)
        self.assertTrue(col.none(), "transactional SEND delivered before COMMIT")
        c.commit(tx)
        self.assertEqual([m.body for m in col.get_n(2)], ["one", "two"])
        tx = c.begin()
        c.send("/topic/tx", "aborted", transaction=tx)
        c.abort(tx)
        self.assertTrue(col.none())

    def test_transactional_ack_and_abort_on_disconnect(self):
        self._fill("/queue/txack", 2)
        c, col = self.client()
        c.subscribe("/queue/txack", id="s", ack="client-individual")
        got = col.get_n(2)
        tx = c.begin()
        c.ack(got[0].headers["ack"], transaction=tx)
        c.commit(tx)
        tx = c.begin()
        c.ack(got[1].headers["ack"], transaction=tx)
        c.send("/queue/txack", "never", transaction=tx)
        c.disconnect()  # the open transaction aborts: m1 stays unacked
        c2, col2 = self.client()
        c2.subscribe("/queue/txack", id="s", ack="auto")
        self.assertEqual([m.body for m in col2.get_n(3, timeout=1.0)], ["m1"])

    def test_unknown_transaction_is_an_error(self):
        r = self.raw()
        r.connect()
        r.send_frame("COMMIT", [("transaction", "nope")])
        self.assertIn("transaction", r.expect("ERROR").get("message"))

    # --- heart-beats ---------------------------------------------------------------
    def test_server_sends_heartbeats(self):
        r = self.raw()
        connected = r.connect(extra=[("heart-beat", "0,1000")])
        self.assertEqual(connected.get("heart-beat"), "1000,0")
        self.assertIsNone(r.recv(timeout=3.5))
        self.assertGreaterEqual(r.heartbeats, 2)

    def test_silent_client_is_closed(self):
        r = self.raw()
        connected = r.connect(extra=[("heart-beat", "1000,0")])
        self.assertEqual(connected.get("heart-beat"), "0,1000")
        t0 = time.monotonic()
        e = r.expect("ERROR", timeout=6)
        self.assertIn("heart-beat", e.get("message"))
        self.assertTrue(r.wait_eof())
        self.assertGreater(time.monotonic() - t0, 1.4)

    def test_client_heartbeats_keep_it_alive(self):
        c, col = self.client(heartbeats=(1000, 1000))
        time.sleep(4)
        self.assertTrue(c.is_connected())
        c.subscribe("/topic/hb", id="s")
        c.send("/topic/hb", "alive")
        self.assertEqual(col.get().body, "alive")

    # --- queues ----------------------------------------------------------------------
    def test_queue_competing_consumers_round_robin(self):
        consumers = [self.client() for _ in range(2)]
        for i, (c, col) in enumerate(consumers):
            c.subscribe("/queue/work", id="w", ack="auto", headers={"receipt": "w%d" % i})
            self.assertTrue(col.receipt("w%d" % i))
        p, _ = self.client()
        for i in range(10):
            p.send("/queue/work", "job%d" % i)
        bodies = [sorted(m.body for m in col.get_n(5)) for _, col in consumers]
        self.assertEqual([len(b) for b in bodies], [5, 5])
        self.assertEqual(sorted(bodies[0] + bodies[1]), sorted("job%d" % i for i in range(10)))
        for _, col in consumers:
            self.assertTrue(col.none(0.2))

    def test_queue_holds_messages_until_a_consumer(self):
        self._fill("/queue/held", 3, prefix="h")
        c, col = self.client()
        c.subscribe("/queue/held", id="s")
        self.assertEqual([m.body for m in col.get_n(3)], ["h0", "h1", "h2"])

    def test_temp_queue_request_response(self):
        server, scol = self.client()
        server.subscribe("/queue/rpc", id="rpc", headers={"receipt": "rs"})
        self.assertTrue(scol.receipt("rs"))
        client, ccol = self.client()
        client.subscribe("/temp-queue/replies", id="rep", headers={"receipt": "rc"})
        self.assertTrue(ccol.receipt("rc"))
        client.send("/queue/rpc", "ping", headers={"reply-to": "/temp-queue/replies",
                                                   "correlation-id": "c-1"})
        req = scol.get()
        reply_to = req.headers["reply-to"]
        self.assertTrue(reply_to.startswith("/remote-temp-queue/"), reply_to)
        self.assertEqual(req.headers["correlation-id"], "c-1")
        server.send(reply_to, "pong", headers={"correlation-id": req.headers["correlation-id"]})
        rep = ccol.get()
        self.assertEqual(rep.body, "pong")
        self.assertEqual(rep.headers["destination"], "/temp-queue/replies")
        self.assertEqual(rep.headers["correlation-id"], "c-1")
        # Another connection's /temp-queue/replies is its own, separate queue.
        other, ocol = self.client()
        other.subscribe("/temp-queue/replies", id="x")
        server.send(reply_to, "second")
        self.assertEqual(ccol.get().body, "second")
        self.assertTrue(ocol.none())

    def test_unknown_destination_is_an_error(self):
        r = self.raw()
        r.connect()
        r.send_frame("SEND", [("destination", "/exchange/x"), ("receipt", "r")], b"x")
        e = r.expect("ERROR")
        self.assertIn("unknown destination", e.get("message"))
        self.assertEqual(e.get("receipt-id"), "r")
        self.assertTrue(r.wait_eof())

    # --- retained ----------------------------------------------------------------------
    def test_retained_message_for_new_subscriber(self):
        c, col = self.client()
        c.send("/topic/ret/state", "on", headers={"retain": "true"}, receipt="rr")
        self.assertTrue(col.receipt("rr"))
        c2, col2 = self.client()
        c2.subscribe("/topic/ret/+", id="s")
        m = col2.get()
        self.assertEqual(m.body, "on")
        self.assertEqual(m.headers.get("retain"), "true")

    # --- cross-protocol ----------------------------------------------------------------
    def test_mqtt_to_stomp(self):
        c, col = self.client()
        c.subscribe("/topic/xp/led/status", id="s", headers={"receipt": "r"})
        self.assertTrue(col.receipt("r"))
        m = PahoClient(self.broker.port("mqtt"), "paho-x1")
        self.addCleanup(m.stop)
        m.publish("xp/led/status", b"on", qos=1)
        got = col.get()
        self.assertEqual(got.body, "on")
        self.assertEqual(got.headers["destination"], "/topic/xp/led/status")
        self.assertEqual(got.headers["persistent"], "true")
        self.assertEqual(got.headers["content-length"], "2")
        m.publish("xp/led/status", b"off", qos=0)
        got = col.get()
        self.assertEqual(got.body, "off")
        self.assertNotIn("persistent", got.headers)

    def test_stomp_to_mqtt(self):
        m = PahoClient(self.broker.port("mqtt"), "paho-x2")
        self.addCleanup(m.stop)
        m.subscribe("xp/led/#", qos=1)
        c, col = self.client()
        c.send("/topic/xp/led/cmd", "toggle", headers={"persistent": "true"})
        got = m.get()
        self.assertEqual((got.topic, got.payload, got.qos), ("xp/led/cmd", b"toggle", 1))
        c.send("/topic/xp/led/cmd", "plain")
        got = m.get()
        self.assertEqual((got.payload, got.qos), (b"plain", 0))

    def test_stomp_retained_seen_by_mqtt(self):
        c, col = self.client()
        c.send("/topic/ret/mqtt", "kept", headers={"retain": "true"}, receipt="r")
        self.assertTrue(col.receipt("r"))
        m = PahoClient(self.broker.port("mqtt"), "paho-x3")
        self.addCleanup(m.stop)
        m.subscribe("ret/mqtt", qos=0)
        got = m.get()
        self.assertEqual((got.payload, got.retain), (b"kept", 1))


class HostsTest(unittest.TestCase):
    def test_configured_hosts(self):
        with Broker(listeners=BROKER_ARGS, extra_args=["--stomp-hosts", "alpha,beta"]) as b:
            r = RawStomp(b.port("stomp"))
            r.send_frame("CONNECT", [("accept-version", "1.2"), ("host", "beta")])
            r.expect("CONNECTED")
            r.close()
            r = RawStomp(b.port("stomp"))
            r.send_frame("CONNECT", [("accept-version", "1.2"), ("host", "gamma")])
            e = r.expect("ERROR")
            self.assertIn("virtual host", e.get("message"))
            self.assertTrue(r.wait_eof())
            r.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
