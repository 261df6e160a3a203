"""A raw STOMP client over TCP for tests that need exact bytes: frames are
written as given and read back parsed (command, headers, body)."""

import os
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from duplex_fixture import Broker  # noqa: E402,F401

BROKER_ARGS = ("ws", "mqtt", "stomp")


def frame(command, headers=(), body=b""):
    out = command.encode() + b"\n"
    for k, v in headers:
        out += ("%s:%s\n" % (k, v)).encode()
    if isinstance(body, str):
        body = body.encode()
    return out + b"\n" + body + b"\0"


class Frame:
    def __init__(self, command, headers, body):
        self.command = command
        self.headers = headers  # list of (name, value), wire order
        self.body = body

    def get(self, name, default=None):
        for k, v in self.headers:
            if k == name:
                return v
        return default

    def __repr__(self):
        return "Frame(%s, %r, %r)" % (self.command, self.headers, self.body[:60])


class RawStomp:
    def __init__(self, port, timeout=5.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout)
        self.buf = b""
        self.heartbeats = 0

    def send(self, data):
        self.sock.sendall(data)

    def send_frame(self, command, headers=(), body=b""):
        self.send(frame(command, headers, body))

    def _parse(self):
        # Heart-beat EOLs between frames.
        while self.buf[:1] in (b"\n", b"\r"):
            if self.buf[:2] == b"\r\n":
                self.buf = self.buf[2:]
            elif self.buf[:1] == b"\n":
                self.buf = self.buf[1:]
            else:
                return None
            self.heartbeats += 1
        end = self.buf.find(b"\n\n")
        if end < 0:
            return None
        lines = self.buf[:end].decode().split("\n")
        headers = [tuple(l.split(":", 1)) for l in lines[1:]]
        start = end + 2
        length = None
        for k, v in headers:
            if k == "content-length":
                length = int(v)
                break
        if length is not None:
            if len(self.buf) < start + length + 1:
                return None
            body = self.buf[start:start + length]
            assert self.buf[start + length:start + length + 1] == b"\0"
            self.buf = self.buf[start + length + 1:]
        else:
            nul = self.buf.find(b"\0", start)
            if nul < 0:
                return None
            body = self.buf[start:nul]
            self.buf = self.buf[nul + 1:]
        return Frame(lines[0], headers, body)

    def recv(self, timeout=5.0):
        """Next frame, or None on timeout or EOF."""
        deadline = time.monotonic() + timeout
        while True:
            f = self._parse()
            if f is not None:
                return f
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                return None
            except OSError:
                return None
            if not data:
                return None
            self.buf += data

    def expect(self, command, timeout=5.0):
        f = self.recv(timeout)
        if f is None or f.command != command:
            raise AssertionError("expected %s, got %r" % (command, f))
        return f

    def connect(self, version="1.2", extra=()):
        headers = [("accept-version", version), ("host", "localhost")] + list(extra)
        self.send_frame("CONNECT", headers)
        return self.expect("CONNECTED")

    def wait_eof(self, timeout=5.0):
        """True once the broker closed the connection (after any frames)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                return False
            except OSError:
                return True
            if not data:
                return True
            self.buf += data
        return False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
