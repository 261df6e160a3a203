"""Byte-level MQTT 3.1.1 tests over raw TCP sockets: bad input closes only the
offending connection (and is logged with the client id), keepalive timeout,
zero-length client ids, QoS 2 exactly-once on the inbound side, redelivery
with DUP on reconnect, wills on abnormal close."""

import os
import re
import socket
import struct
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from duplex_fixture import (Broker, DISCONNECT, PINGREQ,  # noqa: E402
                            PahoClient, RawMqtt, connect_packet,
                            decode_publish, enc_str, packet, puback_packet,
                            publish_packet, subscribe_packet)

MAX_PACKET = 4096
WILDCARD_IN_TOPIC = r"topic name contains a wildcard \+ or #"


def close_log_regex(client_id, reason):
    """The broker's close line for `client_id` ("-" before CONNECT) with the
    expected reason: ``client <id> (<peer>): closing: <reason>...``. `reason`
    is a regex; it must name the one rule that was broken, not any reason."""
    return r"client %s \([^)]*\): closing: %s" % (re.escape(client_id), reason)


class BrokerCase(unittest.TestCase):
    extra_args = ()

    @classmethod
    def setUpClass(cls):
        cls.broker = Broker(listeners=("ws", "mqtt"),
                            extra_args=cls.extra_args).start()
        cls.port = cls.broker.mqtt_port

    @classmethod
    def tearDownClass(cls):
        rc = cls.broker.stop()
        if rc != 0:
            raise AssertionError("broker exit status %r" % rc)

    def setUp(self):
        self.raws = []
        self.pahos = []

    def tearDown(self):
        for r in self.raws:
            r.close()
        for p in self.pahos:
            p.stop()

    def raw(self):
        r = RawMqtt(self.port)
        self.raws.append(r)
        return r

    def paho(self, client_id, **kw):
        p = PahoClient(self.port, client_id, **kw)
        self.pahos.append(p)
        return p


class BadInputTest(BrokerCase):
    """Each bad packet closes that connection only."""
    extra_args = ("--max-packet-size", str(MAX_PACKET))

    def check_closes(self, name, bad_bytes, reason, connect_first=True,
                     will=None):
        """`reason`: regex of the close reason the broker must log."""
        client_id = "bad-" + name
        witness = self.paho("witness-" + name)
        self.assertTrue(witness.roundtrip("witness/" + name + "/before"))
        r = self.raw()
        if connect_first:
            ack = r.connect(client_id, will=will)
            self.assertEqual(ack, b"\x00\x00")
        r.send(bad_bytes)
        self.assertTrue(r.wait_eof(5),
                        "%s: the broker did not close the connection" % name)
        # The already-connected client keeps working.
        self.assertFalse(witness.disconnected.is_set(),
                         "%s: witness was disconnected" % name)
        self.assertTrue(witness.roundtrip("witness/" + name + "/after"),
                        "%s: witness stopped working" % name)
        if not self.broker.is_peer:
            logged_id = client_id if connect_first else "-"
            self.assertIsNotNone(
                self.broker.wait_for_log(close_log_regex(logged_id, reason), 3),
                "%s: no log line closes client %s for %r" %
                (name, logged_id, reason))

    def test_malformed_remaining_length(self):
        # Five continuation bytes: more than the 4 the spec allows.
        self.check_closes("remlen", b"\x30\xff\xff\xff\xff\x01",
                          r"Remaining Length longer than 4 bytes")

    def test_second_connect(self):
        self.check_closes("second-connect", connect_packet("bad-second-connect"),
                          r"second CONNECT \[MQTT-3\.1\.0-2\]")

    def test_subscribe_reserved_flags(self):
        body = struct.pack("!H", 1) + enc_str("a/b") + b"\x00"
        self.check_closes("sub-flags", packet(0x80, body),  # must be 0x82
                          r"reserved flags of SUBSCRIBE must be 0010")

    def test_subscribe_reserved_qos_bits(self):
        body = struct.pack("!H", 1) + enc_str("a/b") + b"\x04"  # bit 2 set
        self.check_closes("sub-qosbits", packet(0x82, body),
                          r"SUBSCRIBE reserved option bits set or QoS 3")

    def test_subscribe_qos3(self):
        body = struct.pack("!H", 1) + enc_str("a/b") + b"\x03"
        self.check_closes("sub-qos3", packet(0x82, body),
                          r"SUBSCRIBE reserved option bits set or QoS 3")

    def test_publish_qos3(self):
        body = enc_str("a/b") + struct.pack("!H", 1) + b"x"
        self.check_closes("pub-qos3", packet(0x36, body),
                          r"PUBLISH QoS must not be 3")

    def test_pingreq_flags(self):
        # [MQTT-2.2.2-2]; mosquitto 2.0.11 does not check PINGREQ flags.
        if self.broker.is_peer:
            self.skipTest("mosquitto accepts PINGREQ with flags set")
        self.check_closes("ping-flags", b"\xc1\x00",
                          r"reserved flags of PINGREQ must be 0000")

    def test_unsubscribe_reserved_flags(self):
        body = struct.pack("!H", 1) + enc_str("a/b")
        self.check_closes("unsub-flags", packet(0xa0, body),  # must be 0xa2
                          r"reserved flags of UNSUBSCRIBE must be 0010")

    def test_pubrel_reserved_flags(self):
        self.check_closes("pubrel-flags", packet(0x60, struct.pack("!H", 1)),
                          r"reserved flags of PUBREL must be 0010")

    def test_connect_reserved_flag(self):
        # CONNECT flags bit 0 is reserved and must be 0: no CONNACK expected.
        body = enc_str("MQTT") + bytes([4, 0x03]) + struct.pack("!H", 30) + \
            enc_str("bad-connect-reserved")
        self.check_closes("connect-reserved", packet(0x10, body),
                          r"CONNECT reserved flag \(bit 0\) must be 0",
                          connect_first=False)

    def test_packet_before_connect(self):
        self.check_closes("no-connect", publish_packet("a/b", b"x"),
                          r"first packet is not CONNECT",
                          connect_first=False)

    def test_invalid_utf8_topic(self):
        body = enc_str(b"a/\xff\xfe") + b"payload"
        self.check_closes("utf8", packet(0x30, body),
                          r"string is not well-formed UTF-8")

    def test_nul_in_topic(self):
        body = enc_str(b"a/\x00b") + b"payload"
        self.check_closes("nul", packet(0x30, body),
                          r"string contains U\+0000")

    def test_invalid_utf8_filter(self):
        body = struct.pack("!H", 1) + enc_str(b"a/\xc0\xaf") + b"\x00"
        self.check_closes("utf8-filter", packet(0x82, body),
                          r"string is not well-formed UTF-8: overlong")

    def test_wildcard_hash_in_publish_topic(self):
        self.check_closes("pub-hash", publish_packet("a/#", b"x"),
                          WILDCARD_IN_TOPIC)

    def test_wildcard_plus_in_publish_topic(self):
        self.check_closes("pub-plus", publish_packet("a/+/b", b"x", qos=1,
                                                     pid=3),
                          WILDCARD_IN_TOPIC)

    def test_oversize_packet(self):
        self.check_closes("oversize",
                          publish_packet("big/t", b"x" * (MAX_PACKET + 100)),
                          r"packet larger than max_packet_size 4096")

    def test_oversize_announced_only(self):
        # Only the fixed header announcing a huge packet is sent: the broker
        # must not wait for (or allocate) the body.
        self.check_closes("oversize-hdr", b"\x30\xff\xff\xff\x7f",
                          r"packet larger than max_packet_size 4096")

    def test_will_published_after_protocol_error(self):
        watcher = self.paho("will-watcher")
        watcher.subscribe("bw/#", 1)
        self.check_closes("will-error", publish_packet("a/#", b"x"),
                          WILDCARD_IN_TOPIC,
                          will=("bw/err", b"died badly", 1, False))
        m = watcher.get(3)
        self.assertIsNotNone(m, "will not published after a protocol error")
        self.assertEqual((m.topic, m.payload), ("bw/err", b"died badly"))

    def test_packet_just_under_limit_is_accepted(self):
        witness = self.paho("limit-witness")
        witness.subscribe("lim/t", 0)
        r = self.raw()
        r.connect("limit-ok")
        overhead = len(publish_packet("lim/t", b""))
        # remaining length gets one more byte above 127/16383
        payload = b"y" * (MAX_PACKET - overhead - 2)
        pkt = publish_packet("lim/t", payload)
        self.assertLessEqual(len(pkt), MAX_PACKET)
        r.send(pkt)
        m = witness.get(3)
        self.assertIsNotNone(m)
        self.assertEqual(len(m.payload), len(payload))
        r.send(PINGREQ)
        self.assertEqual(r.recv_packet(), (0xd0, b""))


class ProtocolTest(BrokerCase):

    def test_zero_length_client_id_clean_session(self):
        r = self.raw()
        self.assertEqual(r.connect("", clean=True), b"\x00\x00")
        r.send(subscribe_packet(1, [("zl/t", 0)]))
        self.assertEqual(r.recv_packet(), (0x90, b"\x00\x01\x00"))
        r.send(publish_packet("zl/t", b"me"))
        fb, body = r.recv_packet()
        self.assertEqual(decode_publish(fb, body)["payload"], b"me")

    def test_zero_length_client_id_without_clean_session_rejected(self):
        r = self.raw()
        r.send(connect_packet("", clean=False))
        p = r.recv_packet()
        # CONNACK with return code 2 (identifier rejected), then close.
        self.assertEqual(p, (0x20, b"\x00\x02"))
        self.assertTrue(r.wait_eof(3))

    def test_takeover_of_clean_session_starts_a_new_session(self):
        # A clean-session session lasts only as long as its network
        # connection [MQTT-3.1.2-6]: when a clean=0 CONNECT takes it over,
        # there is no session to resume (session present 0, old
        # subscriptions gone).
        cid = "takeover-clean"
        first = self.raw()
        self.assertEqual(first.connect(cid, clean=True), b"\x00\x00")
        first.send(subscribe_packet(1, [("tk/clean", 1)]))
        self.assertEqual(first.recv_packet(), (0x90, b"\x00\x01\x01"))
        second = self.raw()
        self.assertEqual(second.connect(cid, clean=False), b"\x00\x00")
        self.assertTrue(first.wait_eof(3))
        pub = self.raw()
        pub.connect("takeover-clean-pub")
        pub.send(publish_packet("tk/clean", b"x", qos=1, pid=1))
        self.assertEqual(pub.recv_packet(), (0x40, b"\x00\x01"))
        with self.assertRaises(socket.timeout):
            second.recv_packet(timeout=0.5)
        # A persistent session taken over by a clean=0 CONNECT is resumed.
        second.send(subscribe_packet(2, [("tk/kept", 1)]))
        self.assertEqual(second.recv_packet(), (0x90, b"\x00\x02\x01"))
        third = self.raw()
        self.assertEqual(third.connect(cid, clean=False), b"\x01\x00")
        self.assertTrue(second.wait_eof(3))
        pub.send(publish_packet("tk/kept", b"y", qos=1, pid=2))
        self.assertEqual(pub.recv_packet(), (0x40, b"\x00\x02"))
        fb, body = third.recv_packet()
        self.assertEqual(decode_publish(fb, body)["payload"], b"y")

    def test_unacceptable_protocol_level(self):
        r = self.raw()
        r.send(connect_packet("bad-level", level=42))
        p = r.recv_packet()
        self.assertIn(p, [(0x20, b"\x00\x01"), None])
        self.assertTrue(r.wait_eof(3))

    def test_mqtt31_connect(self):
        r = self.raw()
        ack = r.connect("v31-client", protocol="MQIsdp", level=3)
        self.assertEqual(ack[1], 0)
        r.send(PINGREQ)
        self.assertEqual(r.recv_packet(), (0xd0, b""))

    def test_qos2_inbound_exactly_once(self):
        watcher = self.paho("q2-watcher")
        watcher.subscribe("q2in/t", 2)
        r = self.raw()
        r.connect("q2-publisher")
        pub = publish_packet("q2in/t", b"once", qos=2, pid=10)
        r.send(pub)
        self.assertEqual(r.recv_packet(), (0x50, b"\x00\x0a"))  # PUBREC
        # Resend with DUP before PUBREL: must not be delivered again.
        r.send(publish_packet("q2in/t", b"once", qos=2, pid=10, dup=True))
        self.assertEqual(r.recv_packet(), (0x50, b"\x00\x0a"))
        r.send(packet(0x62, b"\x00\x0a"))  # PUBREL
        self.assertEqual(r.recv_packet(), (0x70, b"\x00\x0a"))  # PUBCOMP
        # The packet id is free again: a new message with it is new.
        r.send(publish_packet("q2in/t", b"twice", qos=2, pid=10))
        self.assertEqual(r.recv_packet(), (0x50, b"\x00\x0a"))
        r.send(packet(0x62, b"\x00\x0a"))
        self.assertEqual(r.recv_packet(), (0x70, b"\x00\x0a"))
        got = []
        while True:
            m = watcher.get(1.0)
            if m is None:
                break
            got.append(m.payload)
        self.assertEqual(got, [b"once", b"twice"])

    def test_redelivery_with_dup_on_reconnect(self):
        cid = "redeliver-client"
        pub = self.paho("redeliver-pub")
        r = self.raw()
        r.connect(cid, clean=True)
        r.send(DISCONNECT)
        r.close()

        r = self.raw()
        self.assertEqual(r.connect(cid, clean=False), b"\x00\x00")
        r.send(subscribe_packet(1, [("rd/q1", 1), ("rd/q2", 2)]))
        self.assertEqual(r.recv_packet(), (0x90, b"\x00\x01\x01\x02"))
        pub.publish("rd/q1", b"one", 1)
        pub.publish("rd/q2", b"two", 2)
        first = {}
        for _ in range(2):
            fb, body = r.recv_packet()
            self.assertEqual(fb & 0xF0, 0x30)
            p = decode_publish(fb, body)
            self.assertFalse(p["dup"])
            first[p["topic"]] = p
        # Drop the connection without acknowledging anything.
        r.close()

        r = self.raw()
        self.assertEqual(r.connect(cid, clean=False), b"\x01\x00")
        again = {}
        for _ in range(2):
            fb, body = r.recv_packet()
            p = decode_publish(fb, body)
            again[p["topic"]] = p
        self.assertEqual(set(again), {"rd/q1", "rd/q2"})
        for t in again:
            self.assertTrue(again[t]["dup"], "%s redelivered without DUP" % t)
            self.assertEqual(again[t]["pid"], first[t]["pid"])
            self.assertEqual(again[t]["payload"], first[t]["payload"])
            self.assertEqual(again[t]["qos"], first[t]["qos"])
        # Ack QoS 1; for QoS 2 send PUBREC, get PUBREL, drop before PUBCOMP.
        r.send(puback_packet(again["rd/q1"]["pid"]))
        q2pid = struct.pack("!H", again["rd/q2"]["pid"])
        r.send(packet(0x50, q2pid))
        self.assertEqual(r.recv_packet(), (0x62, q2pid))
        r.close()

        # Next time only the PUBREL is resent, not the PUBLISH.
        r = self.raw()
        self.assertEqual(r.connect(cid, clean=False), b"\x01\x00")
        self.assertEqual(r.recv_packet(), (0x62, q2pid))
        r.send(packet(0x70, q2pid))  # PUBCOMP
        r.send(PINGREQ)
        self.assertEqual(r.recv_packet(), (0xd0, b""))
        r.send(DISCONNECT)
        r.close()

        # Nothing left to deliver.
        r = self.raw()
        self.assertEqual(r.connect(cid, clean=False), b"\x01\x00")
        r.send(PINGREQ)
        self.assertEqual(r.recv_packet(), (0xd0, b""))
        r.send(DISCONNECT)

    def test_will_on_abnormal_close_not_on_disconnect(self):
        watcher = self.paho("raw-will-watcher")
        watcher.subscribe("rw/#", 2)
        a = self.raw()
        a.connect("raw-will-polite", will=("rw/polite", b"no", 1, False))
        a.send(DISCONNECT)
        self.assertTrue(a.wait_eof(3))
        b = self.raw()
        b.connect("raw-will-abrupt", will=("rw/abrupt", b"yes", 2, False))
        b.close()
        m = watcher.get(3)
        self.assertIsNotNone(m, "will not published on abnormal close")
        self.assertEqual((m.topic, m.payload, m.qos),
                         ("rw/abrupt", b"yes", 2))
        self.assertIsNone(watcher.get(0.5))

    def test_retained_will(self):
        b = self.raw()
        b.connect("raw-will-retained", will=("rwr/t", b"last words", 1, True))
        b.close()
        time.sleep(0.3)
        late = self.paho("rwr-late")
        late.subscribe("rwr/t", 1)
        m = late.get(3)
        self.assertIsNotNone(m)
        self.assertEqual(m.payload, b"last words")
        self.assertTrue(m.retain)
        late.publish("rwr/t", b"", 1, retain=True)  # clean up


class KeepaliveTest(BrokerCase):

    def test_keepalive_timeout(self):
        r = self.raw()
        r.connect("ka-silent", keepalive=1)
        t0 = time.monotonic()
        # mosquitto checks keepalives coarsely (~4 s for keepalive 1).
        limit = 6.0 if self.broker.is_peer else 2.6
        self.assertTrue(r.wait_eof(limit + 1),
                        "silent client was not disconnected")
        dt = time.monotonic() - t0
        # 1.5 x keepalive; allow for timer granularity.
        self.assertGreaterEqual(dt, 1.0, "closed too early (%.2fs)" % dt)
        self.assertLessEqual(dt, limit, "closed too late (%.2fs)" % dt)
        if not self.broker.is_peer:
            self.assertIsNotNone(
                self.broker.wait_for_log(
                    close_log_regex("ka-silent", r"keep alive timeout \(1 s\)"), 2),
                "keepalive close not logged with the client id")

    def test_pings_keep_connection_open(self):
        r = self.raw()
        r.connect("ka-pinger", keepalive=1)
        for _ in range(5):
            time.sleep(0.5)
            r.send(PINGREQ)
            self.assertEqual(r.recv_packet(), (0xd0, b""))

    def test_keepalive_will(self):
        watcher = self.paho("ka-watcher")
        watcher.subscribe("kaw/#", 1)
        r = self.raw()
        r.connect("ka-will", keepalive=1, will=("kaw/t", b"timeout", 1, False))
        m = watcher.get(7 if self.broker.is_peer else 4)
        self.assertIsNotNone(m, "will not published after keepalive timeout")
        self.assertEqual(m.payload, b"timeout")


class InflightLimitTest(BrokerCase):
    extra_args = ("--max-inflight", "2")

    def test_unacked_qos1_window(self):
        pub = self.paho("inflight-pub")
        r = self.raw()
        r.connect("inflight-sub")
        r.send(subscribe_packet(1, [("inf/t", 1)]))
        self.assertEqual(r.recv_packet(), (0x90, b"\x00\x01\x01"))
        for i in range(5):
            pub.publish("inf/t", b"m%d" % i, 1)
        got = []
        for _ in range(2):
            fb, body = r.recv_packet()
            got.append(decode_publish(fb, body))
        # No third PUBLISH while two are unacknowledged.
        with self.assertRaises(socket.timeout):
            r.recv_packet(timeout=0.7)
        # Each PUBACK lets exactly one more through, in order.
        for i in range(2, 5):
            r.send(puback_packet(got[i - 2]["pid"]))
            fb, body = r.recv_packet()
            got.append(decode_publish(fb, body))
        self.assertEqual([g["payload"] for g in got],
                         [b"m%d" % i for i in range(5)])
        self.assertEqual(len({g["pid"] for g in got[:2]}), 2)


class QueueLimitTest(BrokerCase):
    extra_args = ("--max-queued-messages", "5", "--max-inflight", "100")

    def test_offline_queue_is_bounded(self):
        cid = "queue-limit-client"
        r = self.raw()
        r.connect(cid, clean=True)
        r.send(DISCONNECT)
        r.close()
        r = self.raw()
        r.connect(cid, clean=False)
        r.send(subscribe_packet(1, [("ql/t", 1)]))
        self.assertEqual(r.recv_packet(), (0x90, b"\x00\x01\x01"))
        r.send(DISCONNECT)
        self.assertTrue(r.wait_eof(3))
        pub = self.paho("queue-limit-pub")
        for i in range(20):
            pub.publish("ql/t", b"q%02d" % i, 1)
        r = self.raw()
        self.assertEqual(r.connect(cid, clean=False), b"\x01\x00")
        got = []
        while True:
            try:
                p = r.recv_packet(timeout=1.0)
            except socket.timeout:
                break
            self.assertIsNotNone(p)
            d = decode_publish(*p)
            got.append(d["payload"])
            r.send(puback_packet(d["pid"]))
        # At most the queue limit (a broker may count the in-flight window
        # separately, as mosquitto does), never everything, no duplicates.
        self.assertGreaterEqual(len(got), 5, got)
        self.assertLess(len(got), 20, "offline queue is not bounded")
        self.assertEqual(len(set(got)), len(got))
        if not self.broker.is_peer:
            self.assertEqual(len(got), 5, got)


class ConnectionLimitTest(BrokerCase):
    extra_args = ("--max-connections", "2")

    def test_connections_over_limit_are_refused(self):
        a = self.raw()
        a.connect("conn-limit-a")
        b = self.raw()
        b.connect("conn-limit-b")
        c = RawMqtt(self.port)
        self.raws.append(c)
        try:
            c.send(connect_packet("conn-limit-c"))
            p = c.recv_packet(timeout=3)
        except (socket.timeout, OSError):
            p = "timeout"
        # Either closed without CONNACK, or refused with a CONNACK error
        # (3 = server unavailable) and then closed.
        self.assertIn(p, [None, (0x20, b"\x00\x03")],
                      "third connection was accepted")
        # The two accepted connections still work.
        for r in (a, b):
            r.send(PINGREQ)
            self.assertEqual(r.recv_packet(), (0xd0, b""))
        # Closing one frees a slot.
        a.send(DISCONNECT)
        self.assertTrue(a.wait_eof(3))
        time.sleep(0.2)
        d = self.raw()
        self.assertEqual(d.connect("conn-limit-d"), b"\x00\x00")


if __name__ == "__main__":
    unittest.main(verbosity=2)
