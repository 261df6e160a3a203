"""TLS on the mqtts, stomps and wss listeners, with real clients: mosquitto_pub
and mosquitto_sub (right CA, wrong CA, expired server certificate, client
certificates required, given, missing or from another CA), stomp.py, a raw
WebSocket client over wss:// and an HTTPS GET of the page (keep-alive too),
certificate reload on SIGHUP (a new connection gets the new certificate, an
existing one keeps working, a broken file keeps the old one), a handshake
that stalls is closed by the deadline, plain bytes on a TLS port are refused
cleanly, large messages through partial TLS writes arrive intact, and the
start-up errors of a TLS listener without certificates.

The PKI is made per run with the openssl CLI (tls_pki.py) and removed."""

import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from duplex_fixture import (Broker, PINGREQ, RawMqtt, connect_packet,  # noqa: E402
                            parse_packets, publish_packet, require_module,
                            require_program, subscribe_packet)
from tls_pki import Pki  # noqa: E402

PKI = None


def setUpModule():
    global PKI
    require_program("openssl", "apt install openssl")
    PKI = Pki()


def tearDownModule():
    if PKI:
        PKI.cleanup()


def tls_args(cert="server.crt", key="server.key", ca=None, require=False, extra=()):
    args = ["--tls-cert-file", PKI.path(cert) if not os.path.isabs(cert) else cert,
            "--tls-key-file", PKI.path(key) if not os.path.isabs(key) else key]
    if ca:
        args += ["--tls-ca-file", PKI.path(ca)]
    if require:
        args += ["--tls-require-certificate", "true"]
    return args + list(extra)


def client_context(ca="ca.crt", cert=None, key=None):
    ctx = ssl.create_default_context(cafile=PKI.path(ca))
    if cert:
        ctx.load_cert_chain(PKI.path(cert), PKI.path(key))
    return ctx


def tls_socket(port, ca="ca.crt", cert=None, key=None, timeout=5.0, ctx=None):
    raw = socket.create_connection(("127.0.0.1", port), timeout)
    ctx = ctx or client_context(ca, cert, key)
    s = ctx.wrap_socket(raw, server_hostname="localhost")
    s.settimeout(timeout)
    return s


def server_fingerprint(port):
    """SHA-256 of the certificate the server presents to a new connection."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), 5) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            import hashlib
            return hashlib.sha256(s.getpeercert(binary_form=True)).hexdigest()


class TlsMqtt(RawMqtt):
    """RawMqtt over TLS."""

    def __init__(self, port, timeout=5.0, **kw):
        self.sock = tls_socket(port, timeout=timeout, **kw)
        self.buf = b""


def mosquitto(program, port, *args, timeout=10):
    return subprocess.run([program, "-h", "127.0.0.1", "-p", str(port)] + list(args),
                          capture_output=True, timeout=timeout)


def pub_sub(port, *tls, topic="tls/t", message="over-tls"):
    """mosquitto_sub waits for one message that mosquitto_pub sends; returns
    (sub result, pub result)."""
    sub_bin = require_program("mosquitto_sub", "apt install mosquitto-clients")
    pub_bin = require_program("mosquitto_pub", "apt install mosquitto-clients")
    sub = subprocess.Popen([sub_bin, "-h", "127.0.0.1", "-p", str(port), "-t", topic, "-C", "1",
                            "-W", "5", "-q", "1"] + list(tls),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    pub = None
    try:
        for _ in range(50):  # until the subscription is in place
            time.sleep(0.1)
            pub = subprocess.run([pub_bin, "-h", "127.0.0.1", "-p", str(port), "-t", topic, "-m", message,
                                  "-q", "1"] + list(tls), capture_output=True, timeout=10)
            if pub.returncode != 0 or sub.poll() is not None:
                break
        out, err = sub.communicate(timeout=10)
    finally:
        if sub.poll() is None:
            sub.kill()
            sub.wait()
    return (sub.returncode, out, err), pub


class MqttOverTls(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.broker = Broker(listeners=("mqtt", "mqtts"), extra_args=tls_args())
        cls.broker.start()
        cls.port = cls.broker.port("mqtts")

    @classmethod
    def tearDownClass(cls):
        cls.broker.stop()

    def test_mosquitto_clients_with_the_right_ca(self):
        (rc, out, err), pub = pub_sub(self.port, "--cafile", PKI.path("ca.crt"))
        self.assertEqual(pub.returncode, 0, pub.stderr)
        self.assertEqual(rc, 0, err)
        self.assertEqual(out.strip(), b"over-tls")

    def test_mosquitto_pub_with_the_wrong_ca_fails(self):
        r = mosquitto(require_program("mosquitto_pub", "mosquitto-clients"), self.port, "-t", "x", "-m", "y",
                      "--cafile", PKI.path("other-ca.crt"))
        self.assertNotEqual(r.returncode, 0)
        self.assertTrue(self.broker.wait_for_log(r"TLS handshake failed", 3), "no log line for the refusal")

    def test_tls_and_plain_clients_share_topics(self):
        sub = TlsMqtt(self.port)
        sub.connect("tls-sub")
        sub.send(subscribe_packet(1, [("mix/#", 0)]))
        self.assertEqual(sub.recv_packet()[0], 0x90)
        plain = RawMqtt(self.broker.mqtt_port)
        plain.connect("plain-pub")
        plain.send(publish_packet("mix/a", b"from plain"))
        fb, body = sub.recv_packet()
        self.assertEqual(fb & 0xF0, 0x30)
        self.assertTrue(body.endswith(b"from plain"))
        sub.close()
        plain.close()

    def test_large_messages_through_partial_tls_writes(self):
        # 40 x 200 KiB to a subscriber that reads slowly: ciphertext that
        # the kernel takes in pieces must still form intact records.
        sub = TlsMqtt(self.port, timeout=10)
        sub.connect("tls-big")
        sub.send(subscribe_packet(1, [("big/t", 1)]))
        self.assertEqual(sub.recv_packet()[0], 0x90)
        pub = RawMqtt(self.broker.mqtt_port)
        pub.connect("big-pub")
        payloads = [bytes([i]) * (200 * 1024) for i in range(40)]
        for i, p in enumerate(payloads):
            pub.send(publish_packet("big/t", p, qos=1, pid=i + 1))
        time.sleep(1.0)  # let the broker's output to us back up
        got = []
        while len(got) < len(payloads):
            fb, body = sub.recv_packet(timeout=10)
            if fb & 0xF0 != 0x30:
                continue
            pid = int.from_bytes(body[2 + 5:2 + 5 + 2], "big")
            got.append(body[2 + 5 + 2:])
            sub.send(bytes([0x40, 2]) + pid.to_bytes(2, "big"))
        self.assertEqual(got, payloads)
        sub.close()
        pub.close()

    def test_plain_mqtt_on_the_tls_port_is_refused_cleanly(self):
        s = socket.create_connection(("127.0.0.1", self.port), 5)
        s.settimeout(5)
        s.sendall(connect_packet("plain-on-tls"))
        data = b""
        try:
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        except ConnectionResetError:
            pass
        s.close()
        # Nothing but (perhaps) a TLS alert record, then the end.
        self.assertTrue(data == b"" or data[0] == 0x15, data)
        self.assertTrue(self.broker.wait_for_log(r"TLS handshake failed", 3))
        # And the port still serves TLS clients.
        c = TlsMqtt(self.port)
        c.connect("after-plain")
        c.close()

    def test_a_stalled_handshake_is_closed(self):
        # A broker of its own: connect_timeout 1 s bounds the handshake.
        with Broker(listeners=("mqtts",), extra_args=tls_args(extra=["--connect-timeout", "1"])) as b:
            s = socket.create_connection(("127.0.0.1", b.port("mqtts")), 5)
            s.settimeout(5)
            s.sendall(b"\x16\x03\x01\x02\x00\x01")  # the start of a ClientHello, then nothing
            start = time.monotonic()
            try:
                self.assertEqual(s.recv(4096), b"")
            except ConnectionResetError:
                pass
            elapsed = time.monotonic() - start
            s.close()
            self.assertLess(elapsed, 4.0)
            self.assertTrue(b.wait_for_log(r"TLS handshake not completed in time", 2))

    def test_tls_1_2_refused_when_the_minimum_is_1_3(self):
        with Broker(listeners=("mqtts",), extra_args=tls_args(extra=["--tls-min-version", "1.3"])) as b:
            ctx = client_context()
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
            with self.assertRaises((ssl.SSLError, ConnectionResetError)):
                tls_socket(b.port("mqtts"), ctx=ctx).close()
            ctx = client_context()
            ctx.minimum_version = ssl.TLSVersion.TLSv1_3
            s = tls_socket(b.port("mqtts"), ctx=ctx)
            self.assertEqual(s.version(), "TLSv1.3")
            s.close()

    def test_tls_1_2_uses_an_ecdhe_aead_suite(self):
        ctx = client_context()
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        s = tls_socket(self.port, ctx=ctx)
        name, version, _ = s.cipher()
        s.close()
        self.assertEqual(version, "TLSv1.2")
        self.assertTrue(name.startswith("ECDHE-") and ("GCM" in name or "CHACHA20" in name), name)


class ExpiredCertificate(unittest.TestCase):
    def test_an_expired_server_certificate_is_rejected_by_the_client(self):
        with Broker(listeners=("mqtts",), extra_args=tls_args(cert="expired.crt")) as b:
            r = mosquitto(require_program("mosquitto_pub", "mosquitto-clients"), b.port("mqtts"),
                          "-t", "x", "-m", "y", "--cafile", PKI.path("ca.crt"))
            self.assertNotEqual(r.returncode, 0)
            with self.assertRaises(ssl.SSLCertVerificationError) as e:
                tls_socket(b.port("mqtts")).close()
            self.assertIn("expired", str(e.exception))


class ClientCertificates(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.broker = Broker(listeners=("mqtts", "stomps"), extra_args=tls_args(ca="ca.crt", require=True))
        cls.broker.start()
        cls.port = cls.broker.port("mqtts")

    @classmethod
    def tearDownClass(cls):
        cls.broker.stop()

    def test_a_client_certificate_from_the_ca_is_accepted(self):
        (rc, out, err), pub = pub_sub(self.port, "--cafile", PKI.path("ca.crt"), "--cert", PKI.path("client.crt"),
                                      "--key", PKI.path("client.key"))
        self.assertEqual(pub.returncode, 0, pub.stderr)
        self.assertEqual(rc, 0, err)
        self.assertEqual(out.strip(), b"over-tls")

    def test_no_client_certificate_is_refused(self):
        r = mosquitto(require_program("mosquitto_pub", "mosquitto-clients"), self.port, "-t", "x", "-m", "y",
                      "--cafile", PKI.path("ca.crt"))
        self.assertNotEqual(r.returncode, 0)
        self.assertTrue(self.broker.wait_for_log(r"TLS handshake failed.*certificate", 3))

    def test_a_client_certificate_from_another_ca_is_refused(self):
        r = mosquitto(require_program("mosquitto_pub", "mosquitto-clients"), self.port, "-t", "x", "-m", "y",
                      "--cafile", PKI.path("ca.crt"), "--cert", PKI.path("other-client.crt"),
                      "--key", PKI.path("other-client.key"))
        self.assertNotEqual(r.returncode, 0)

    def test_stomp_with_a_client_certificate(self):
        stomp = require_module("stomp", "stomp.py", "apt install python3-stomp")
        conn = stomp.Connection12([("127.0.0.1", self.broker.port("stomps"))], heartbeats=(0, 0))
        conn.set_ssl(for_hosts=[("127.0.0.1", self.broker.port("stomps"))], ca_certs=PKI.path("ca.crt"),
                     cert_file=PKI.path("client.crt"), key_file=PKI.path("client.key"))
        conn.connect(wait=True)
        self.assertTrue(conn.is_connected())
        conn.disconnect()


class CredentialsOverTls(unittest.TestCase):
    """Passwords over TLS (mosquitto_pub/sub with --cafile and -u/-P), and a
    client certificate's CN as the identity (tls_use_identity_as_username)
    that the ACL then decides on."""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="duplex-tls-cred-")
        cls.pw = os.path.join(cls.dir, "passwords")
        subprocess.run([os.environ["DUPLEX_BIN"], "passwd", "-c", "-b", cls.pw, "alice", "tls-secret"],
                       check=True, capture_output=True)
        acl = os.path.join(cls.dir, "acl")
        with open(acl, "w") as f:
            f.write("user alice\ntopic readwrite tls/#\n"
                    "user device-7\ntopic readwrite devices/device-7/#\n")
        cls.broker = Broker(listeners=("mqtts",), extra_args=tls_args(ca="ca.crt", extra=[
            "--allow-anonymous", "false", "--password-file", cls.pw, "--acl-file", acl,
            "--tls-use-identity-as-username", "true"]))
        cls.broker.start()
        cls.port = cls.broker.port("mqtts")

    @classmethod
    def tearDownClass(cls):
        cls.broker.stop()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def test_the_right_password_over_tls_publishes(self):
        (rc, out, err), pub = pub_sub(self.port, "--cafile", PKI.path("ca.crt"), "-u", "alice", "-P", "tls-secret")
        self.assertEqual(pub.returncode, 0, pub.stderr)
        self.assertEqual(rc, 0, err)
        self.assertEqual(out.strip(), b"over-tls")

    def test_a_wrong_password_over_tls_is_refused(self):
        r = mosquitto(require_program("mosquitto_pub", "mosquitto-clients"), self.port, "-t", "tls/x", "-m", "y",
                      "--cafile", PKI.path("ca.crt"), "-u", "alice", "-P", "wrong", "-V", "mqttv311")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(b"bad user name or password", (r.stderr + r.stdout).lower())
        self.assertTrue(self.broker.wait_for_log(r"login refused for 'alice'.*wrong password", 3))

    def test_no_credentials_over_tls_are_refused(self):
        r = mosquitto(require_program("mosquitto_pub", "mosquitto-clients"), self.port, "-t", "tls/x", "-m", "y",
                      "--cafile", PKI.path("ca.crt"))
        self.assertNotEqual(r.returncode, 0)

    def test_the_certificate_cn_is_the_identity_the_acl_sees(self):
        cert = ["--cafile", PKI.path("ca.crt"), "--cert", PKI.path("client.crt"), "--key", PKI.path("client.key")]
        (rc, out, err), pub = pub_sub(self.port, *cert, topic="devices/device-7/state", message="cn")
        self.assertEqual(pub.returncode, 0, pub.stderr)
        self.assertEqual(rc, 0, err)
        self.assertEqual(out.strip(), b"cn")
        # The same client on alice's topics: its identity is device-7, not
        # the username it claims (-u alice is ignored with a certificate).
        sub = mosquitto(require_program("mosquitto_sub", "mosquitto-clients"), self.port, "-t", "tls/#",
                        "-C", "1", "-W", "2", "-u", "alice", "-P", "whatever", "-V", "mqttv5", *cert)
        # SUBACK 0x87; mosquitto_sub says so (and exits 0).
        self.assertIn(b"All subscription requests were denied", sub.stdout + sub.stderr)
        self.assertTrue(self.broker.wait_for_log(r"not authorized to subscribe to tls/#", 3))


class StompOverTls(unittest.TestCase):
    def test_stomp_py_round_trip(self):
        stomp = require_module("stomp", "stomp.py", "apt install python3-stomp")
        import queue
        got = queue.Queue()

        class Listener(stomp.ConnectionListener):
            def on_message(self, frame):
                got.put(frame.body)

        with Broker(listeners=("stomps",), extra_args=tls_args()) as b:
            port = b.port("stomps")
            conn = stomp.Connection12([("127.0.0.1", port)], heartbeats=(0, 0))
            conn.set_ssl(for_hosts=[("127.0.0.1", port)], ca_certs=PKI.path("ca.crt"))
            conn.set_listener("l", Listener())
            conn.connect(wait=True)
            conn.subscribe("/topic/tls", id="1", ack="auto")
            time.sleep(0.2)
            conn.send("/topic/tls", "stomp over tls")
            self.assertEqual(got.get(timeout=5), "stomp over tls")
            conn.disconnect()


class WebOverTls(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        import tempfile
        cls.dir = tempfile.TemporaryDirectory()
        root = os.path.join(cls.dir.name, "web")
        os.makedirs(root)
        with open(os.path.join(root, "index.html"), "w") as f:
            f.write("<p>secure page</p>")
        with open(os.path.join(root, "big.js"), "wb") as f:
            f.write(os.urandom(3 * 512 * 1024).hex().encode())
        cls.broker = Broker(listeners=("wss",), extra_args=tls_args() + ["--web-root", root])
        cls.broker.start()
        cls.port = cls.broker.port("wss")
        cls.root = root

    @classmethod
    def tearDownClass(cls):
        cls.broker.stop()
        cls.dir.cleanup()

    def request(self, s, path):
        s.sendall(("GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n" % path).encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            self.assertTrue(chunk, "EOF before the response head")
            data += chunk
        head, body = data.split(b"\r\n\r\n", 1)
        length = None
        for line in head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length":
                length = int(v)
        self.assertIsNotNone(length, head)
        while len(body) < length:
            chunk = s.recv(65536)
            self.assertTrue(chunk, "EOF in the body")
            body += chunk
        return int(head.split()[1]), head, body

    def test_https_get_of_the_page_with_keep_alive(self):
        s = tls_socket(self.port)
        status, head, body = self.request(s, "/")
        self.assertEqual(status, 200)
        self.assertEqual(body, b"<p>secure page</p>")
        self.assertIn(b"x-frame-options: DENY", head.lower().replace(b"deny", b"DENY"))
        # The same connection serves a second request, a large file (the
        # client reads it slowly: lws's output is held back, not buffered).
        s.sendall(b"GET /big.js HTTP/1.1\r\nHost: localhost\r\n\r\n")
        time.sleep(0.5)
        s2 = s  # read it all now
        data = b""
        while b"\r\n\r\n" not in data:
            data += s2.recv(65536)
        head, body = data.split(b"\r\n\r\n", 1)
        self.assertIn(b" 200 ", head.split(b"\r\n")[0] + b" ")
        with open(os.path.join(self.root, "big.js"), "rb") as f:
            want = f.read()
        while len(body) < len(want):
            chunk = s.recv(65536)
            self.assertTrue(chunk)
            body += chunk
        self.assertEqual(body, want)
        s.close()

    def test_mqtt_over_wss(self):
        import base64
        s = tls_socket(self.port)
        key = base64.b64encode(os.urandom(16)).decode()
        s.sendall(("GET /mqtt HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n"
                   % key).encode())
        data = b""
        while b"\r\n\r\n" not in data:
            data += s.recv(4096)
        head, rest = data.split(b"\r\n\r\n", 1)
        self.assertTrue(head.startswith(b"HTTP/1.1 101"), head)
        pkt = connect_packet("wss-client")
        mask = os.urandom(4)
        frame = bytes([0x82, 0x80 | len(pkt)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(pkt))
        s.sendall(frame)
        while len(rest) < 2 + 4:
            rest += s.recv(4096)
        self.assertEqual(rest[:6], b"\x82\x04\x20\x02\x00\x00")  # CONNACK in one binary frame
        s.close()

    def test_a_stalled_handshake_on_wss_is_closed(self):
        # The web port's deadline (10 s) covers the TLS handshake too.
        s = socket.create_connection(("127.0.0.1", self.port), 5)
        s.settimeout(15)
        start = time.monotonic()
        try:
            self.assertEqual(s.recv(4096), b"")
        except ConnectionResetError:
            pass
        s.close()
        self.assertLess(time.monotonic() - start, 13)
        self.assertTrue(self.broker.wait_for_log(r"TLS handshake not completed in time", 2))


class Reload(unittest.TestCase):
    def test_sighup_serves_the_new_certificate_to_new_connections(self):
        import tempfile
        with tempfile.TemporaryDirectory() as d:
            cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
            shutil.copy(PKI.path("server.crt"), cert)
            shutil.copy(PKI.path("server.key"), key)
            with Broker(listeners=("mqtts",), extra_args=tls_args(cert=cert, key=key)) as b:
                port = b.port("mqtts")
                self.assertEqual(server_fingerprint(port), PKI.fingerprint("server.crt"))
                old = TlsMqtt(port)
                old.connect("before-reload")

                shutil.copy(PKI.path("server2.crt"), cert)
                shutil.copy(PKI.path("server2.key"), key)
                b.proc.send_signal(signal.SIGHUP)
                self.assertTrue(b.wait_for_log(r"TLS certificates reloaded", 3))
                self.assertEqual(server_fingerprint(port), PKI.fingerprint("server2.crt"))
                # The connection made before keeps its session.
                old.send(PINGREQ)
                self.assertEqual(old.recv_packet()[0], 0xD0)

                # A broken file: the error is logged, the current certificate stays.
                with open(cert, "w") as f:
                    f.write("not a certificate\n")
                b.proc.send_signal(signal.SIGHUP)
                self.assertTrue(b.wait_for_log(r"TLS reload failed.*tls_cert_file", 3))
                self.assertEqual(server_fingerprint(port), PKI.fingerprint("server2.crt"))
                self.assertTrue(b.running())
                old.close()


class StartupErrors(unittest.TestCase):
    def run_daemon(self, *args):
        return subprocess.run([os.environ["DUPLEX_BIN"], "--ws", "off", "--mqtt", "off", "--stomp", "off",
                               "--led", "off"] + list(args), capture_output=True, timeout=10, text=True)

    def test_a_tls_listener_without_certificates_is_an_error(self):
        r = self.run_daemon("--mqtts", "127.0.0.1:0")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("mqtts need tls_cert_file and tls_key_file", r.stderr)

    def test_a_missing_key_file_is_named(self):
        r = self.run_daemon("--wss", "127.0.0.1:0", *tls_args(key="/nonexistent/key.pem"))
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("tls_key_file '/nonexistent/key.pem'", r.stderr)

    def test_a_key_of_another_certificate_is_an_error(self):
        r = self.run_daemon("--mqtts", "127.0.0.1:0", *tls_args(key="client.key"))
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("tls_key_file", r.stderr)
        self.assertIn("mismatch", r.stderr)

    def test_require_certificate_without_a_ca_is_an_error(self):
        r = self.run_daemon("--mqtts", "127.0.0.1:0", *tls_args(require=True))
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("tls_require_certificate needs tls_ca_file", r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
