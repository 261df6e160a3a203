"""Bad STOMP input: each case gets an ERROR frame with a `message` header
naming the problem, then the connection is closed; the broker keeps serving
other clients."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from stomp_raw import BROKER_ARGS, Broker, RawStomp, frame  # noqa: E402

MAX_PACKET = 4096


class BadInputTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.broker = Broker(listeners=BROKER_ARGS,
                            extra_args=["--max-packet-size", str(MAX_PACKET)]).start()
        cls.port = cls.broker.port("stomp")

    @classmethod
    def tearDownClass(cls):
        code = cls.broker.stop()
        assert code == 0, "broker exit code %r" % code

    def setUp(self):
        # A bystander subscribed across every case: must stay unaffected.
        self.bystander = RawStomp(self.port)
        self.bystander.connect()
        self.bystander.send_frame("SUBSCRIBE", [("id", "b"), ("destination", "/topic/bystander"),
                                                ("receipt", "ok")])
        self.bystander.expect("RECEIPT")

    def tearDown(self):
        p = RawStomp(self.port)
        p.connect()
        p.send_frame("SEND", [("destination", "/topic/bystander")], b"still here")
        m = self.bystander.expect("MESSAGE")
        self.assertEqual(m.body, b"still here")
        p.close()
        self.bystander.close()

    def error_then_close(self, data, expect_in_message, connect=True, version="1.2"):
        r = RawStomp(self.port)
        try:
            if connect:
                r.connect(version)
            r.send(data)
            e = r.expect("ERROR")
            self.assertIn(expect_in_message, e.get("message", ""))
            self.assertTrue(r.wait_eof(), "connection not closed after ERROR")
            return e
        finally:
            r.close()

    def test_frame_before_connect(self):
        e = self.error_then_close(frame("SEND", [("destination", "/topic/x"), ("receipt", "r1")], b"x"),
                                  "CONNECT", connect=False)
        self.assertEqual(e.get("receipt-id"), "r1")

    def test_unknown_command(self):
        self.error_then_close(frame("FROB", [("a", "b")]), "unknown command")

    def test_malformed_header_line(self):
        self.error_then_close(b"SEND\ndestination:/topic/x\nno-colon-here\n\nbody\0", "")

    def test_bad_content_length(self):
        self.error_then_close(b"SEND\ndestination:/topic/x\ncontent-length:abc\n\nbody\0", "")

    def test_content_length_without_nul(self):
        self.error_then_close(b"SEND\ndestination:/topic/x\ncontent-length:2\n\nbodyXX\0", "")

    def test_oversize_frame(self):
        body = b"x" * (MAX_PACKET + 10)
        self.error_then_close(frame("SEND", [("destination", "/topic/x")], body), "")

    def test_oversize_frame_without_terminator(self):
        # Never completed: the reassembly buffer must not grow without bound.
        r = RawStomp(self.port)
        try:
            r.connect()
            r.send(b"SEND\ndestination:/topic/x\n\n" + b"y" * (MAX_PACKET + 70 * 1024))
            r.expect("ERROR")
            self.assertTrue(r.wait_eof())
        finally:
            r.close()

    def test_undefined_escape_in_12(self):
        self.error_then_close(b"SEND\ndestination:/topic/x\nfoo:bad\\tescape\n\nbody\0", "escape")

    def test_no_common_version(self):
        r = RawStomp(self.port)
        try:
            r.send_frame("CONNECT", [("accept-version", "2.0,3.1"), ("host", "h")])
            e = r.expect("ERROR")
            self.assertEqual(e.get("version"), "1.0,1.1,1.2")
            self.assertTrue(r.wait_eof())
        finally:
            r.close()

    def test_missing_destination(self):
        self.error_then_close(frame("SEND", [("receipt", "r")], b"x"), "destination")

    def test_wildcard_in_send_destination(self):
        self.error_then_close(frame("SEND", [("destination", "/topic/a/+")], b"x"), "topic")

    def test_subscribe_without_id(self):
        self.error_then_close(frame("SUBSCRIBE", [("destination", "/topic/a")]), "id")

    def test_bad_ack_mode(self):
        self.error_then_close(frame("SUBSCRIBE", [("id", "1"), ("destination", "/topic/a"),
                                                  ("ack", "sometimes")]), "ack")

    def test_second_connect(self):
        self.error_then_close(frame("CONNECT", [("accept-version", "1.2")]), "already connected")

    def test_bad_heart_beat_header(self):
        r = RawStomp(self.port)
        try:
            r.send_frame("CONNECT", [("accept-version", "1.2"), ("heart-beat", "x,y")])
            self.assertIn("heart-beat", r.expect("ERROR").get("message"))
            self.assertTrue(r.wait_eof())
        finally:
            r.close()

    def test_garbage_bytes(self):
        r = RawStomp(self.port)
        try:
            r.send(b"\x00\xff\xfe garbage \x00\n\n\0")
            r.expect("ERROR")
            self.assertTrue(r.wait_eof())
        finally:
            r.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
