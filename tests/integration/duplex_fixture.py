"""Integration-test fixture for the duplex daemon (mirrors broker_process.h).

Starts the daemon on ephemeral loopback listeners, parses its
``listening <kind> <host>:<port>`` lines, keeps (and echoes) its log, and
kills it on teardown.

Environment:
  DUPLEX_BIN        path of the duplex executable (set by meson).
  DUPLEX_TEST_PEER  "mosquitto": run mosquitto instead (reference broker used
                    to check that the tests are right). Duplex-specific log
                    assertions are skipped then (``Broker.is_peer``).
  MOSQUITTO_BIN     optional mosquitto path for that mode.
"""

import os
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

for _v in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY",
           "all_proxy", "ALL_PROXY"):
    os.environ.pop(_v, None)

LISTENING_RE = re.compile(r"listening (\w+) ([0-9.]+):(\d+)")


def in_ci():
    """CI=true (the CI job, .ci/run): a missing test peer is a failure."""
    return os.environ.get("CI", "").lower() == "true"


def missing_peer(peer, hint):
    """A test peer (client library or program) is missing. Outside CI the
    test is skipped (raises unittest.SkipTest); under CI=true the process
    fails at once with a message naming the peer, so a suite cannot vanish
    from CI because a client was not installed."""
    msg = "test peer missing: %s (%s)" % (peer, hint)
    if in_ci():
        sys.stderr.write("FAIL: %s; CI=true requires every test peer\n" % msg)
        sys.stderr.flush()
        os._exit(1)  # also from a setUp/setUpClass: unittest would catch SystemExit
    import unittest
    raise unittest.SkipTest(msg)


def require_module(module, peer, hint):
    """Imports and returns `module`, or reports the missing peer (see
    missing_peer)."""
    import importlib
    try:
        return importlib.import_module(module)
    except ImportError:
        missing_peer(peer, hint)


def require_program(program, hint):
    """The path of `program` on PATH, or reports the missing peer."""
    import shutil
    path = shutil.which(program)
    if not path:
        missing_peer(program, hint)
    return path


def peer_mode():
    return os.environ.get("DUPLEX_TEST_PEER", "") == "mosquitto"


def pick_free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _set_pdeathsig():
    # Make the broker die with the test process, whatever happens.
    try:
        import ctypes
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except Exception:
        pass


class Broker:
    def __init__(self, listeners=("ws", "mqtt"), extra_args=(), echo=True,
                 startup_timeout=10.0):
        self.listeners = list(listeners)
        self.extra_args = list(extra_args)
        self.echo = echo
        self.startup_timeout = startup_timeout
        self.is_peer = peer_mode()
        self.ports = {}
        self.lines = []
        self._cv = threading.Condition()
        self._eof = False
        self._conf = None
        self.proc = None
        self.returncode = None

    # -- lifecycle ---------------------------------------------------------
    def start(self):
        if self.is_peer:
            argv = self._mosquitto_argv()
        else:
            binary = os.environ.get("DUPLEX_BIN")
            if not binary:
                raise RuntimeError("DUPLEX_BIN is not set")
            argv = [binary]
            for kind in self.listeners:
                argv += ["--" + kind, "127.0.0.1:0"]
            # Listeners not asked for would bind fixed default ports.
            for kind in ("ws", "mqtt", "stomp"):
                if kind not in self.listeners:
                    argv += ["--" + kind, "off"]
            # The demo LED publishes a retained led/status; tests that want it
            # pass --led simulated (later flags win).
            argv += ["--log-level", "debug", "--led", "off"] + self.extra_args
        if self.echo:
            sys.stderr.write("[broker] start: %s\n" % " ".join(argv))
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, preexec_fn=_set_pdeathsig)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        try:
            self._wait_ready()
        except BaseException:
            self.stop(timeout=2)
            raise
        return self

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    def stop(self, timeout=5.0):
        """SIGTERM, wait <= timeout, SIGKILL. Returns the exit code
        (negative signal number if killed by a signal, None if SIGKILLed
        after the timeout)."""
        if self.proc is None:
            return self.returncode
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.returncode = self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                sys.stderr.write("[broker] no exit after SIGTERM; SIGKILL\n")
                self.proc.kill()
                self.proc.wait()
                # mosquitto (reference broker) occasionally ignores a SIGTERM
                # that arrives right after start-up; the exit-status checks
                # are about duplex.
                self.returncode = 0 if self.is_peer else None
        else:
            self.returncode = self.proc.returncode
        self._reader.join(timeout=5)
        self.proc.stdout.close()
        self.proc = None
        if self._conf:
            try:
                os.unlink(self._conf)
            except OSError:
                pass
            self._conf = None
        return self.returncode

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    # -- log -----------------------------------------------------------------
    def _read(self):
        for raw in iter(self.proc.stdout.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            if self.echo:
                sys.stderr.write("[broker] " + line + "\n")
            with self._cv:
                self.lines.append(line)
                self._cv.notify_all()
        with self._cv:
            self._eof = True
            self._cv.notify_all()

    def log_contains(self, regex):
        r = re.compile(regex)
        with self._cv:
            return any(r.search(l) for l in self.lines)

    def wait_for_log(self, regex, timeout=3.0):
        r = re.compile(regex)
        deadline = time.monotonic() + timeout
        scanned = 0
        with self._cv:
            while True:
                for l in self.lines[scanned:]:
                    if r.search(l):
                        return l
                scanned = len(self.lines)
                left = deadline - time.monotonic()
                if left <= 0 or self._eof:
                    return None
                self._cv.wait(left)

    def log_text(self):
        with self._cv:
            return "\n".join(self.lines)

    # -- ports -----------------------------------------------------------------
    def port(self, kind):
        return self.ports[kind]

    @property
    def mqtt_port(self):
        return self.ports["mqtt"]

    @property
    def ws_port(self):
        return self.ports["ws"]

    def _wait_ready(self):
        deadline = time.monotonic() + self.startup_timeout
        if self.is_peer:
            # No probe connection: it upsets mosquitto's max_connections
            # count. mosquitto logs "... running" once all listeners are up.
            if not self.wait_for_log(r"mosquitto version \S+ running",
                                     self.startup_timeout):
                raise RuntimeError("mosquitto did not start:\n" +
                                   self.log_text())
            return
        scanned = 0
        with self._cv:
            while True:
                for l in self.lines[scanned:]:
                    m = LISTENING_RE.search(l)
                    if m:
                        self.ports[m.group(1)] = int(m.group(3))
                scanned = len(self.lines)
                if all(k in self.ports for k in self.listeners):
                    return
                if self._eof:
                    raise RuntimeError("broker exited before listening:\n" +
                                       "\n".join(self.lines))
                left = deadline - time.monotonic()
                if left <= 0:
                    raise RuntimeError("timed out waiting for 'listening' "
                                       "lines:\n" + "\n".join(self.lines))
                self._cv.wait(left)

    def _mosquitto_argv(self):
        binary = os.environ.get("MOSQUITTO_BIN", "/usr/sbin/mosquitto")
        conf = ["per_listener_settings false", "allow_anonymous true",
                "persistence false", "log_dest stderr", "log_type all",
                "connection_messages true"]
        mapping = {"--max-packet-size": "max_packet_size",
                   "--max-inflight": "max_inflight_messages",
                   "--max-queued-messages": "max_queued_messages",
                   "--max-queued-bytes": "max_queued_bytes"}
        max_conn = None
        args = self.extra_args
        for i in range(0, len(args) - 1, 2):
            if args[i] in mapping:
                conf.append("%s %s" % (mapping[args[i]], args[i + 1]))
            elif args[i] == "--max-connections":
                max_conn = args[i + 1]
        for kind in self.listeners:
            port = pick_free_port()
            conf.append("listener %d 127.0.0.1" % port)
            if kind == "ws":
                conf.append("protocol websockets")
            elif kind != "mqtt":
                raise RuntimeError("mosquitto mode has no listener " + kind)
            if max_conn:
                conf.append("max_connections " + max_conn)
            self.ports[kind] = port
        fd, path = tempfile.mkstemp(prefix="duplex-it-mosquitto-",
                                    suffix=".conf")
        with os.fdopen(fd, "w") as f:
            f.write("\n".join(conf) + "\n")
        self._conf = path
        return [binary, "-c", path]


# ---------------------------------------------------------------------------
# Raw MQTT 3.1.1 packet helpers (for byte-exact tests).

def enc_varint(n):
    out = bytearray()
    while True:
        b = n % 128
        n //= 128
        if n:
            b |= 0x80
        out.append(b)
        if not n:
            return bytes(out)


def enc_str(s):
    b = s if isinstance(s, (bytes, bytearray)) else s.encode("utf-8")
    return struct.pack("!H", len(b)) + bytes(b)


def packet(first_byte, body):
    return bytes([first_byte]) + enc_varint(len(body)) + body


def connect_packet(client_id, clean=True, keepalive=30, will=None,
                   protocol="MQTT", level=4):
    """will: (topic, payload, qos, retain) or None."""
    flags = 0x02 if clean else 0
    payload = enc_str(client_id)
    if will:
        topic, msg, qos, retain = will
        flags |= 0x04 | (qos << 3) | (0x20 if retain else 0)
        payload += enc_str(topic) + enc_str(msg)
    body = enc_str(protocol) + bytes([level, flags]) + \
        struct.pack("!H", keepalive) + payload
    return packet(0x10, body)


def subscribe_packet(pid, filters):
    """filters: list of (filter, qos)."""
    body = struct.pack("!H", pid)
    for f, q in filters:
        body += enc_str(f) + bytes([q])
    return packet(0x82, body)


def publish_packet(topic, payload, qos=0, pid=None, retain=False, dup=False):
    fb = 0x30 | (qos << 1) | (1 if retain else 0) | (0x08 if dup else 0)
    body = enc_str(topic)
    if qos:
        body += struct.pack("!H", pid)
    body += payload if isinstance(payload, bytes) else payload.encode()
    return packet(fb, body)


def puback_packet(pid):
    return packet(0x40, struct.pack("!H", pid))


PINGREQ = b"\xc0\x00"
DISCONNECT = b"\xe0\x00"


def parse_packets(buf):
    """Splits complete MQTT packets off the front of buf.
    Returns (list of (first_byte, body), rest)."""
    out = []
    while True:
        if len(buf) < 2:
            return out, buf
        mult, n, i = 1, 0, 1
        while True:
            if i >= len(buf):
                return out, buf
            b = buf[i]
            n += (b & 0x7F) * mult
            mult *= 128
            i += 1
            if not b & 0x80:
                break
        if len(buf) < i + n:
            return out, buf
        out.append((buf[0], bytes(buf[i:i + n])))
        buf = buf[i + n:]


def decode_publish(first_byte, body):
    qos = (first_byte >> 1) & 3
    tlen = struct.unpack("!H", body[:2])[0]
    topic = body[2:2 + tlen].decode()
    rest = body[2 + tlen:]
    pid = None
    if qos:
        pid = struct.unpack("!H", rest[:2])[0]
        rest = rest[2:]
    return {"topic": topic, "payload": rest, "qos": qos, "pid": pid,
            "dup": bool(first_byte & 8), "retain": bool(first_byte & 1)}


class RawMqtt:
    """A plain-TCP MQTT connection driven byte by byte."""

    def __init__(self, port, timeout=5.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout)
        self.sock.settimeout(timeout)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def recv_packet(self, timeout=5.0):
        """Next (first_byte, body); None on EOF. Raises socket.timeout."""
        deadline = time.monotonic() + timeout
        while True:
            pkts, _ = parse_packets(self.buf)
            if pkts:
                fb, body = pkts[0]
                n = 1 + len(enc_varint(len(body))) + len(body)
                self.buf = self.buf[n:]
                return fb, body
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("no MQTT packet within %.1fs" % timeout)
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except ConnectionResetError:
                return None
            if not data:
                return None
            self.buf += data

    def connect(self, client_id, clean=True, keepalive=30, will=None,
                protocol="MQTT", level=4):
        self.send(connect_packet(client_id, clean, keepalive, will, protocol,
                                 level))
        p = self.recv_packet()
        assert p is not None, "EOF instead of CONNACK"
        assert p[0] == 0x20, "expected CONNACK, got 0x%02x" % p[0]
        return p[1]  # (ack flags, return code)

    def wait_eof(self, timeout=5.0):
        """True if the broker closes the connection within timeout (any
        packets received before the close are ignored)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                return False
            except ConnectionResetError:
                return True
            if not data:
                return True

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


# ---------------------------------------------------------------------------
# paho-mqtt (1.6) helper.

class PahoClient:
    """A paho-mqtt client running its network loop on a thread; received
    messages go to a queue."""

    def __init__(self, port, client_id, transport="tcp", clean=True,
                 keepalive=30, ws_path="/mqtt"):
        import queue
        import paho.mqtt.client as mqtt
        self.mqtt = mqtt
        self.messages = queue.Queue()
        self.connected = threading.Event()
        self.disconnected = threading.Event()
        self.client = mqtt.Client(client_id=client_id, clean_session=clean,
                                  protocol=mqtt.MQTTv311, transport=transport)
        if transport == "websockets":
            self.client.ws_set_options(path=ws_path)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = lambda c, u, rc: self.disconnected.set()
        self.client.on_message = lambda c, u, m: self.messages.put(m)
        self.client.connect("127.0.0.1", port, keepalive)
        self.client.loop_start()
        if not self.connected.wait(5):
            self.stop()
            raise RuntimeError("paho client %s did not connect" % client_id)

    def _on_connect(self, client, userdata, flags, rc):
        if rc == 0:
            self.connected.set()

    def subscribe(self, topic, qos=0):
        done = threading.Event()
        self.client.on_subscribe = lambda c, u, mid, granted: done.set()
        self.client.subscribe(topic, qos)
        if not done.wait(5):
            raise RuntimeError("no SUBACK for " + topic)

    def publish(self, topic, payload, qos=0, retain=False):
        info = self.client.publish(topic, payload, qos, retain)
        info.wait_for_publish(5)
        return info

    def get(self, timeout=3.0):
        import queue
        try:
            return self.messages.get(timeout=timeout)
        except queue.Empty:
            return None

    def roundtrip(self, topic, timeout=3.0):
        """Subscribes to topic, publishes to it and checks it comes back:
        proves this connection still works."""
        self.subscribe(topic, 1)
        payload = b"alive-%f" % time.monotonic()
        self.publish(topic, payload, 1)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = self.get(deadline - time.monotonic())
            if m is not None and m.topic == topic and m.payload == payload:
                return True
        return False

    def stop(self):
        try:
            self.client.disconnect()
        except Exception:
            pass
        self.client.loop_stop()
