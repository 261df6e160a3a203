"""MQTT over WebSocket framing, checked with a minimal raw WebSocket client:
MQTT packets split over several WebSocket messages, several MQTT packets in
one WebSocket message, fragmented frames, text frames, subprotocol
negotiation; RFC 6455 handshake refusals, ping/pong, close and protocol
errors; an upgrade on a kept-alive HTTP connection refused."""

import base64
import hashlib
import os
import re
import socket
import struct
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from duplex_fixture import (Broker, DISCONNECT, PahoClient,  # noqa: E402
                            connect_packet, parse_packets, peer_mode,
                            publish_packet, require_module, subscribe_packet)

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_CONT, OP_TEXT, OP_BIN, OP_CLOSE, OP_PING, OP_PONG = 0, 1, 2, 8, 9, 10

CONNACK_OK = b"\x20\x02\x00\x00"


class WsClosed(Exception):
    pass


class RawWs:
    """A tiny RFC 6455 client (always masks, as a client must)."""

    def __init__(self, port, path="/mqtt", protocols="mqtt", timeout=5.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout)
        self.sock.settimeout(timeout)
        self.buf = b""
        key = base64.b64encode(os.urandom(16)).decode()
        req = ("GET %s HTTP/1.1\r\n"
               "Host: 127.0.0.1:%d\r\n"
               "Upgrade: websocket\r\n"
               "Connection: Upgrade\r\n"
               "Sec-WebSocket-Key: %s\r\n"
               "Sec-WebSocket-Version: 13\r\n" % (path, port, key))
        if protocols is not None:
            req += "Sec-WebSocket-Protocol: %s\r\n" % protocols
        req += "\r\n"
        self.sock.sendall(req.encode())
        while b"\r\n\r\n" not in self.buf:
            data = self.sock.recv(4096)
            if not data:
                raise WsClosed("EOF during handshake: %r" % self.buf)
            self.buf += data
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        self.status_line = lines[0]
        self.status = int(lines[0].split()[1])
        self.headers = {}
        for l in lines[1:]:
            k, _, v = l.partition(":")
            self.headers[k.strip().lower()] = v.strip()
        if self.status == 101:
            expect = base64.b64encode(hashlib.sha1(
                (key + WS_GUID).encode()).digest()).decode()
            if self.headers.get("sec-websocket-accept") != expect:
                raise AssertionError("bad Sec-WebSocket-Accept")

    def send_frame(self, opcode, payload, fin=True):
        b0 = (0x80 if fin else 0) | opcode
        n = len(payload)
        if n < 126:
            hdr = struct.pack("!BB", b0, 0x80 | n)
        elif n < 65536:
            hdr = struct.pack("!BBH", b0, 0x80 | 126, n)
        else:
            hdr = struct.pack("!BBQ", b0, 0x80 | 127, n)
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(hdr + mask + masked)

    def send_binary(self, payload):
        self.send_frame(OP_BIN, payload)

    def _read_exact(self, n, deadline):
        while len(self.buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("WebSocket read timed out")
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except ConnectionResetError:
                data = b""
            if not data:
                raise WsClosed("EOF")
            self.buf += data
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def recv_frame(self, timeout=5.0):
        deadline = time.monotonic() + timeout
        b0, b1 = self._read_exact(2, deadline)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", self._read_exact(2, deadline))[0]
        elif n == 127:
            n = struct.unpack("!Q", self._read_exact(8, deadline))[0]
        if b1 & 0x80:
            raise AssertionError("server frames must not be masked")
        payload = self._read_exact(n, deadline)
        return bool(b0 & 0x80), b0 & 0x0F, payload

    def recv_message(self, timeout=5.0):
        """Next data message as (opcode, payload). Pings are answered.
        Raises WsClosed on a close frame or EOF."""
        deadline = time.monotonic() + timeout
        opcode, data = None, b""
        while True:
            fin, op, payload = self.recv_frame(max(0.01, deadline -
                                                   time.monotonic()))
            if op == OP_PING:
                self.send_frame(OP_PONG, payload)
                continue
            if op == OP_PONG:
                continue
            if op == OP_CLOSE:
                raise WsClosed("close frame %r" % payload)
            if op != OP_CONT:
                opcode = op
            data += payload
            if fin:
                return opcode, data

    def expect_closed(self, timeout=5.0):
        """True if the server closes (close frame or EOF) within timeout."""
        deadline = time.monotonic() + timeout
        try:
            while True:
                self.recv_message(max(0.01, deadline - time.monotonic()))
        except WsClosed:
            return True
        except socket.timeout:
            return False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class WebSocketFramingTest(unittest.TestCase):
    def setUp(self):
        self.broker = Broker(listeners=("ws", "mqtt")).start()
        self.port = self.broker.ws_port
        self.conns = []

    def tearDown(self):
        for c in self.conns:
            c.close()
        rc = self.broker.stop()
        self.assertEqual(rc, 0, "broker exit status")

    def ws(self, **kw):
        c = RawWs(self.port, **kw)
        self.conns.append(c)
        return c

    def expect_message(self, c, expected, what):
        op, data = c.recv_message()
        self.assertEqual(op, OP_BIN, "%s must come in a binary message" % what)
        self.assertEqual(data, expected, what)

    def test_handshake_selects_mqtt(self):
        c = self.ws()
        self.assertEqual(c.status, 101, c.status_line)
        self.assertEqual(c.headers.get("sec-websocket-protocol"), "mqtt")
        c.send_binary(connect_packet("ws-hs"))
        self.expect_message(c, CONNACK_OK, "CONNACK")

    def test_subprotocol_list(self):
        c = self.ws(protocols="foo, mqtt")
        self.assertEqual(c.status, 101, c.status_line)
        self.assertEqual(c.headers.get("sec-websocket-protocol"), "mqtt")
        c.send_binary(connect_packet("ws-list"))
        self.expect_message(c, CONNACK_OK, "CONNACK")

    def test_mqttv31_subprotocol(self):
        c = self.ws(protocols="mqttv3.1")
        self.assertEqual(c.status, 101, c.status_line)
        self.assertEqual(c.headers.get("sec-websocket-protocol"), "mqttv3.1")
        c.send_binary(connect_packet("ws-v31", protocol="MQIsdp", level=3))
        self.expect_message(c, CONNACK_OK, "CONNACK")

    def test_any_path(self):
        for path in ("/", "/some/other/path"):
            c = self.ws(path=path)
            self.assertEqual(c.status, 101, c.status_line)
            c.send_binary(connect_packet("ws-path"))
            self.expect_message(c, CONNACK_OK, "CONNACK on " + path)
            c.send_binary(DISCONNECT)

    def test_connect_split_over_messages(self):
        c = self.ws()
        pkt = connect_packet("ws-split-client", keepalive=60)
        # header byte | remaining length + part of the body | the rest
        parts = [pkt[:1], pkt[1:7], pkt[7:15], pkt[15:]]
        for p in parts:
            c.send_binary(p)
            time.sleep(0.05)
        self.expect_message(c, CONNACK_OK, "CONNACK")
        # The connection is usable afterwards.
        c.send_binary(subscribe_packet(7, [("split/t", 1)]))
        self.expect_message(c, b"\x90\x03\x00\x07\x01", "SUBACK")

    def test_connect_in_fragmented_frames(self):
        c = self.ws()
        pkt = connect_packet("ws-frag")
        c.send_frame(OP_BIN, pkt[:3], fin=False)
        c.send_frame(OP_CONT, pkt[3:10], fin=False)
        c.send_frame(OP_CONT, pkt[10:], fin=True)
        self.expect_message(c, CONNACK_OK, "CONNACK")

    def test_several_packets_in_one_message(self):
        c = self.ws()
        msg = (connect_packet("ws-multi") +
               subscribe_packet(1, [("multi/t", 0), ("multi/q1", 1)]) +
               publish_packet("multi/t", b"hello") +
               publish_packet("multi/q1", b"q1!", qos=1, pid=5))
        c.send_binary(msg)
        # Each outgoing MQTT packet comes in its own WebSocket message.
        self.expect_message(c, CONNACK_OK, "CONNACK")
        self.expect_message(c, b"\x90\x04\x00\x01\x00\x01", "SUBACK")
        got = []
        for _ in range(3):
            op, data = c.recv_message()
            self.assertEqual(op, OP_BIN)
            pkts, rest = parse_packets(data)
            self.assertEqual(len(pkts), 1, "one MQTT packet per WS message: "
                             "%r" % data)
            self.assertEqual(rest, b"")
            got.append(data)
        # The PUBACK for our QoS 1 publish, the QoS 0 echo, the QoS 1 echo.
        self.assertIn(b"\x40\x02\x00\x05", got)
        self.assertIn(publish_packet("multi/t", b"hello"), got)
        q1 = [d for d in got if d[0] & 0xF0 == 0x30 and d != publish_packet(
            "multi/t", b"hello")]
        self.assertEqual(len(q1), 1)
        self.assertEqual(q1[0][0], 0x32)  # PUBLISH, QoS 1, no DUP/RETAIN
        # topic "multi/q1", packet id (broker-chosen), payload "q1!"
        self.assertEqual(q1[0][2:4], b"\x00\x08")
        self.assertEqual(q1[0][4:12], b"multi/q1")
        self.assertEqual(q1[0][14:], b"q1!")
        # QoS 0 echo arrives before the QoS 1 echo (publish order).
        self.assertLess(got.index(publish_packet("multi/t", b"hello")),
                        got.index(q1[0]))

    def test_packet_spanning_message_boundary(self):
        c = self.ws()
        a = connect_packet("ws-span")
        b = subscribe_packet(2, [("span/t", 2)])
        blob = a + b
        cut = len(a) + 3  # CONNECT + first bytes of SUBSCRIBE | rest
        c.send_binary(blob[:cut])
        c.send_binary(blob[cut:])
        self.expect_message(c, CONNACK_OK, "CONNACK")
        self.expect_message(c, b"\x90\x03\x00\x02\x02", "SUBACK")

    # MQTT 3.1.1 section 6 [MQTT-6.0.0-1]: data in a non-binary frame
    # closes the connection. mosquitto 2.0.11 does not do this.
    @unittest.skipIf(peer_mode(), "mosquitto ignores text frames")
    def test_text_frame_closes_connection(self):
        c = self.ws()
        c.send_binary(connect_packet("ws-text-client"))
        self.expect_message(c, CONNACK_OK, "CONNACK")
        c.send_frame(OP_TEXT, b"\x30\x05\x00\x01ahi")
        self.assertTrue(c.expect_closed(5), "text frame must close")
        self.assertIsNotNone(
            self.broker.wait_for_log(
                r"client ws-text-client \([^)]*\): closing: "
                r"WebSocket text frame \[MQTT-6\.0\.0-1\]", 3),
            "closing for a text frame is not logged with the client id "
            "and the reason")
        # Another connection is unaffected.
        d = self.ws()
        d.send_binary(connect_packet("ws-after-text"))
        self.expect_message(d, CONNACK_OK, "CONNACK")

    def test_ws_and_tcp_interoperate(self):
        c = self.ws()
        c.send_binary(connect_packet("ws-interop") +
                      subscribe_packet(3, [("interop/#", 0)]))
        self.expect_message(c, CONNACK_OK, "CONNACK")
        self.expect_message(c, b"\x90\x03\x00\x03\x00", "SUBACK")
        s = socket.create_connection(("127.0.0.1", self.broker.mqtt_port), 5)
        try:
            s.sendall(connect_packet("tcp-interop") +
                      publish_packet("interop/x", b"from tcp") + DISCONNECT)
            self.expect_message(c, publish_packet("interop/x", b"from tcp"),
                                "PUBLISH from the TCP client")
        finally:
            s.close()


class PahoPythonWebSocketTest(unittest.TestCase):
    """paho-mqtt (Python) over its own WebSocket transport."""

    def setUp(self):
        require_module("paho.mqtt.client", "paho-mqtt (Python)",
                       "apt install python3-paho-mqtt")
        self.broker = Broker(listeners=("ws", "mqtt")).start()
        self.clients = []

    def tearDown(self):
        for c in self.clients:
            c.stop()
        self.assertEqual(self.broker.stop(), 0, "broker exit status")

    def client(self, cid, ws, path="/mqtt"):
        if ws:
            c = PahoClient(self.broker.ws_port, cid, transport="websockets",
                           ws_path=path)
        else:
            c = PahoClient(self.broker.mqtt_port, cid)
        self.clients.append(c)
        return c

    def test_ws_tcp_interop_all_qos(self):
        w = self.client("py-ws", True)
        root = self.client("py-ws-root", True, path="/")
        t = self.client("py-tcp", False)
        w.subscribe("py/to-ws", 2)
        root.subscribe("py/to-ws", 1)
        t.subscribe("py/to-tcp", 2)
        for q in range(3):
            t.publish("py/to-ws", b"t%d" % q, q)
            w.publish("py/to-tcp", b"w%d" % q, q)
        for c, exp, maxq in ((w, b"t", 2), (root, b"t", 1), (t, b"w", 2)):
            got = [c.get(3) for _ in range(3)]
            self.assertNotIn(None, got)
            self.assertEqual([(m.payload, m.qos) for m in got],
                             [(exp + b"%d" % q, min(q, maxq))
                              for q in range(3)])
            self.assertIsNone(c.get(0.3))
        # A large message crosses WebSocket frame size boundaries.
        big = os.urandom(200000)
        t.publish("py/to-ws", big, 1)
        for c in (w, root):
            m = c.get(5)
            self.assertIsNotNone(m)
            self.assertEqual(m.payload, big)


def raw_request(port, head, timeout=5.0):
    """Sends `head` on a new connection; returns (status, headers, rest)
    of the response, reading until the server closes or timeout."""
    s = socket.create_connection(("127.0.0.1", port), timeout)
    s.settimeout(timeout)
    s.sendall(head)
    data = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
            if b"\r\n\r\n" in data and b"Content-Length" not in data:
                break
    except (socket.timeout, ConnectionResetError):
        pass
    s.close()
    head_bytes, _, rest = data.partition(b"\r\n\r\n")
    lines = head_bytes.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1]) if lines and lines[0] else None
    headers = {}
    for l in lines[1:]:
        k, _, v = l.partition(":")
        headers[k.strip().lower()] = v.strip()
    return status, headers, rest


UPGRADE = ("GET /mqtt HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
           "Connection: Upgrade\r\n")
GOOD_KEY = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"


@unittest.skipIf(peer_mode(), "duplex's own WebSocket handling")
class WebSocketProtocolTest(unittest.TestCase):
    """RFC 6455 on the ws port: handshake refusals, control frames, protocol
    errors closing only the offending connection, HTTP beside WebSocket."""

    @classmethod
    def setUpClass(cls):
        cls.broker = Broker(listeners=("ws", "mqtt")).start()
        cls.port = cls.broker.ws_port

    @classmethod
    def tearDownClass(cls):
        rc = cls.broker.stop()
        if rc != 0:
            raise AssertionError("broker exit status %r" % rc)

    def setUp(self):
        self.conns = []

    def tearDown(self):
        for c in self.conns:
            c.close()

    def ws(self, **kw):
        c = RawWs(self.port, **kw)
        self.conns.append(c)
        return c

    def connected(self, client_id):
        c = self.ws()
        self.assertEqual(c.status, 101)
        c.send_binary(connect_packet(client_id))
        op, data = c.recv_message()
        self.assertEqual(data, CONNACK_OK)
        return c

    def close_frame(self, c, timeout=5.0):
        """The payload of the server's close frame (skipping data)."""
        deadline = time.monotonic() + timeout
        while True:
            fin, op, payload = c.recv_frame(max(0.01, deadline - time.monotonic()))
            if op == OP_CLOSE:
                return payload

    def test_refused_handshakes(self):
        cases = [
            (UPGRADE + "Sec-WebSocket-Version: 13\r\n\r\n", 400),        # no key
            (UPGRADE + "Sec-WebSocket-Key: c2hvcnQ=\r\n"
             "Sec-WebSocket-Version: 13\r\n\r\n", 400),                # not 16 bytes
            (UPGRADE + GOOD_KEY + "Sec-WebSocket-Version: 8\r\n\r\n", 426),
            (UPGRADE + GOOD_KEY + "Sec-WebSocket-Version: 13\r\n"
             "Sec-WebSocket-Protocol: amqp, xmpp\r\n\r\n", 400),        # no subprotocol of ours
            ("POST /mqtt HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
             GOOD_KEY + "Sec-WebSocket-Version: 13\r\n\r\n", 400),
            ("GET /mqtt HTTP/1.1\r\n" + "X-Pad: %s\r\n" % ("a" * 17000), 431),  # head over 16 KiB
        ]
        for head, status in cases:
            with self.subTest(status=status, head=head[:60]):
                got, headers, _ = raw_request(self.port, head.encode())
                self.assertEqual(got, status)
                self.assertEqual(headers.get("connection"), "close")
        self.assertIsNotNone(self.broker.wait_for_log(r"WebSocket upgrade refused", 3))
        # The port still serves WebSocket clients.
        self.connected("ws-after-refusals")

    def test_http_and_websocket_on_one_port(self):
        # Plain HTTP goes to the file server (404 here: the tests serve no
        # web root, or the page itself); WebSocket still works beside it.
        status, _, _ = raw_request(self.port, b"GET /no-such-file HTTP/1.1\r\nHost: x\r\n"
                                              b"Connection: close\r\n\r\n")
        self.assertIn(status, (200, 404))
        self.connected("ws-beside-http")

    def test_ping_is_answered_with_pong(self):
        c = self.connected("ws-ping")
        c.send_frame(OP_PING, b"are you there")
        fin, op, payload = c.recv_frame()
        self.assertEqual((fin, op, payload), (True, OP_PONG, b"are you there"))
        # A ping between the fragments of a message does not disturb it.
        ping = publish_packet("ws/ping", b"x")
        c.send_frame(OP_BIN, subscribe_packet(5, [("ws/ping", 0)]))
        op, data = c.recv_message()
        self.assertEqual(data, b"\x90\x03\x00\x05\x00")
        c.send_frame(OP_BIN, ping[:3], fin=False)
        c.send_frame(OP_PING, b"mid")
        c.send_frame(OP_CONT, ping[3:])
        fin, op, payload = c.recv_frame()
        self.assertEqual((op, payload), (OP_PONG, b"mid"))
        op, data = c.recv_message()
        self.assertEqual(data, ping)

    def test_client_close_is_echoed(self):
        c = self.connected("ws-closer")
        c.send_frame(OP_CLOSE, struct.pack("!H", 1000) + b"bye")
        payload = self.close_frame(c)
        self.assertEqual(struct.unpack("!H", payload[:2])[0], 1000)
        self.assertTrue(c.expect_closed(3))

    def check_protocol_error(self, name, raw_bytes, reason):
        """`reason`: regex of the protocol error the broker must log for
        this connection (the line names the peer address, not a client id)."""
        victim = self.connected("ws-victim-" + name)
        peer = "%s:%d" % victim.sock.getsockname()[:2]
        bystander = self.connected("ws-bystander-" + name)
        victim.sock.sendall(raw_bytes)
        payload = self.close_frame(victim)
        self.assertEqual(struct.unpack("!H", payload[:2])[0], 1002, name)
        self.assertTrue(victim.expect_closed(3), name)
        self.assertIsNotNone(
            self.broker.wait_for_log(
                r"%s: closing: WebSocket protocol error: %s" % (re.escape(peer), reason), 3),
            "%s: no close line for %s with reason %r" % (name, peer, reason))
        bystander.send_binary(b"\xc0\x00")  # PINGREQ
        op, data = bystander.recv_message()
        self.assertEqual(data, b"\xd0\x00", "bystander unaffected")

    def test_unmasked_frame_closes_with_1002(self):
        self.check_protocol_error("unmasked", b"\x82\x02\xc0\x00",
                                  r"client frame not masked")

    def test_reserved_bits_close_with_1002(self):
        self.check_protocol_error("rsv", b"\xc2\x80\x00\x00\x00\x00",
                                  r"reserved bits set \(no extension was negotiated\)")

    def test_unknown_opcode_closes_with_1002(self):
        self.check_protocol_error("opcode", b"\x83\x80\x00\x00\x00\x00",
                                  r"unknown opcode")

    def test_continuation_without_message_closes_with_1002(self):
        self.check_protocol_error("cont", b"\x80\x80\x00\x00\x00\x00",
                                  r"continuation frame with no message open")

    def test_long_control_frame_closes_with_1002(self):
        self.check_protocol_error("longping", b"\x89\xfe\x00\x80\x00\x00\x00\x00" + b"p" * 128,
                                  r"control frame payload over 125 bytes")



class HttpConn:
    """One kept-alive HTTP/1.1 connection: requests in turn, responses read by
    Content-Length."""

    def __init__(self, port, timeout=5.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout)
        self.sock.settimeout(timeout)
        self.buf = b""

    def request(self, head):
        self.sock.sendall(head.encode())
        while b"\r\n\r\n" not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                raise WsClosed("EOF before the response head: %r" % self.buf)
            self.buf += data
        head_bytes, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head_bytes.decode("latin-1").split("\r\n")
        headers = {}
        for l in lines[1:]:
            k, _, v = l.partition(":")
            headers[k.strip().lower()] = v.strip()
        n = int(headers.get("content-length", "0"))
        while len(self.buf) < n:
            data = self.sock.recv(65536)
            if not data:
                raise WsClosed("EOF in the response body")
            self.buf += data
        body, self.buf = self.buf[:n], self.buf[n:]
        return int(lines[0].split()[1]), headers, body

    def closed(self, timeout=3.0):
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False

    def close(self):
        self.sock.close()


PAGE = b"<!doctype html><title>duplex test page</title>\n"
KEEP_ALIVE_GET = ("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                  "Connection: keep-alive\r\n\r\n")


@unittest.skipIf(peer_mode(), "duplex's own WebSocket handling")
class UpgradeOnKeptAliveHttpTest(unittest.TestCase):
    """A WebSocket upgrade on a connection already serving HTTP (handed to
    libwebsockets) is refused with 400 and a text body; the connection goes on
    serving HTTP, and upgrades on fresh connections still work."""

    @classmethod
    def setUpClass(cls):
        cls.web_root = tempfile.TemporaryDirectory()
        with open(os.path.join(cls.web_root.name, "index.html"), "wb") as f:
            f.write(PAGE)
        cls.broker = Broker(listeners=("ws",),
                            extra_args=["--web-root", cls.web_root.name]).start()
        cls.port = cls.broker.ws_port

    @classmethod
    def tearDownClass(cls):
        rc = cls.broker.stop()
        cls.web_root.cleanup()
        if rc != 0:
            raise AssertionError("broker exit status %r" % rc)

    def test_upgrade_after_page_is_refused(self):
        c = HttpConn(self.port)
        try:
            status, _, body = c.request(KEEP_ALIVE_GET)
            self.assertEqual((status, body), (200, PAGE))
            status, headers, body = c.request(
                UPGRADE + GOOD_KEY + "Sec-WebSocket-Version: 13\r\n"
                "Sec-WebSocket-Protocol: mqtt\r\n\r\n")
            self.assertEqual(status, 400)
            self.assertTrue(headers.get("content-type", "").startswith("text/plain"))
            self.assertIn(b"open WebSocket connections on a fresh connection", body)
            self.assertIsNone(headers.get("upgrade"))
            self.assertIsNotNone(self.broker.wait_for_log(
                r"WebSocket upgrade refused \(400\): on a kept-alive HTTP connection", 3))
            # Still an HTTP connection.
            status, _, body = c.request(KEEP_ALIVE_GET)
            self.assertEqual((status, body), (200, PAGE))
        finally:
            c.close()
        # A fresh connection upgrades as always.
        ws = RawWs(self.port)
        try:
            self.assertEqual(ws.status, 101)
            ws.send_binary(connect_packet("ws-after-kept-alive-refusal"))
            op, data = ws.recv_message()
            self.assertEqual(data, CONNACK_OK)
        finally:
            ws.close()

    def test_upgrade_without_subprotocol_is_refused(self):
        # No subprotocol once meant the plain-text commands over lws.
        c = HttpConn(self.port)
        try:
            self.assertEqual(c.request(KEEP_ALIVE_GET)[0], 200)
            status, _, body = c.request(UPGRADE + GOOD_KEY +
                                        "Sec-WebSocket-Version: 13\r\n\r\n")
            self.assertEqual(status, 400)
            self.assertIn(b"fresh connection", body)
        finally:
            c.close()

    def test_unknown_upgrade_is_lws_refusal(self):
        # lws answers an upgrade to anything but websocket/h2c itself (403);
        # then its confirm-upgrade callback runs on released headers, where we
        # hang up (see refuse_upgrade in net/loop.cc). The broker lives on.
        c = HttpConn(self.port)
        try:
            self.assertEqual(c.request(KEEP_ALIVE_GET)[0], 200)
            status, _, _ = c.request("GET / HTTP/1.1\r\nHost: x\r\n"
                                     "Upgrade: flying-pigs\r\n"
                                     "Connection: Upgrade\r\n\r\n")
            self.assertEqual(status, 403)
            self.assertTrue(c.closed())
        finally:
            c.close()
        self.assertTrue(self.broker.running())
        again = HttpConn(self.port)
        try:
            self.assertEqual(again.request(KEEP_ALIVE_GET)[0], 200)
        finally:
            again.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
