#!/usr/bin/python3
"""Opens N MQTT-over-WebSocket connections to a broker and holds them.

    ws_load.py --port PORT [-n 1000] [--hold SECONDS | --hold-until-stdin]

Each connection: TCP connect, WebSocket handshake (GET /mqtt, subprotocol
"mqtt"), MQTT 3.1.1 CONNECT (clean session, keepalive 600 s), SUBSCRIBE to
one topic (load/<i>, QoS 0), waiting for CONNACK and SUBACK. One thread,
non-blocking sockets and selectors; at most --window handshakes in flight
so the listen backlog never overflows (matters when the broker runs under
qemu). When all are subscribed it prints "ready N <seconds>" on stdout and
holds the connections until stdin closes (or --hold seconds pass), then
sends DISCONNECT and closes. Exit status 1 if any connection failed.
"""

import argparse
import base64
import os
import resource
import selectors
import socket
import struct
import sys
import time

CONNECTING, HANDSHAKE, CONNACK, SUBACK, READY = range(5)


def mqtt_str(s):
    b = s.encode()
    return struct.pack("!H", len(b)) + b


def mqtt_packet(first, body):
    n, enc = len(body), bytearray()
    while True:
        b, n = n % 128, n // 128
        enc.append(b | (0x80 if n else 0))
        if not n:
            break
    return bytes([first]) + bytes(enc) + body


def ws_frame(payload):
    """A masked binary client frame."""
    mask = os.urandom(4)
    n = len(payload)
    head = bytes([0x82])
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + struct.pack("!H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack("!Q", n)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + mask + masked


def ws_payloads(buf):
    """Splits unmasked server frames off buf: (payloads, rest)."""
    out = []
    while len(buf) >= 2:
        n = buf[1] & 0x7F
        off = 2
        if n == 126:
            if len(buf) < 4:
                break
            n, off = struct.unpack("!H", buf[2:4])[0], 4
        elif n == 127:
            if len(buf) < 10:
                break
            n, off = struct.unpack("!Q", buf[2:10])[0], 10
        if len(buf) < off + n:
            break
        out.append((buf[0] & 0x0F, buf[off:off + n]))
        buf = buf[off + n:]
    return out, buf


class Conn:
    __slots__ = ("i", "sock", "state", "buf", "out")

    def __init__(self, i):
        self.i, self.state, self.buf, self.out = i, CONNECTING, b"", b""
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setblocking(False)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("-n", type=int, default=1000)
    ap.add_argument("--window", type=int, default=50)
    ap.add_argument("--timeout", type=float, default=300)
    ap.add_argument("--hold", type=float, default=None)
    a = ap.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < a.n + 64:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, a.n + 1024), hard))

    sel = selectors.DefaultSelector()
    key = base64.b64encode(os.urandom(16)).decode()
    request = ("GET /mqtt HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
               "Sec-WebSocket-Protocol: mqtt\r\n\r\n" % (a.port, key)).encode()
    conns, started, ready, failed, inflight = [], 0, 0, 0, 0
    t0 = time.monotonic()

    def start_one():
        nonlocal started, inflight
        c = Conn(started)
        started += 1
        inflight += 1
        c.sock.connect_ex(("127.0.0.1", a.port))
        c.out = request
        conns.append(c)
        sel.register(c.sock, selectors.EVENT_WRITE | selectors.EVENT_READ, c)

    def fail(c, why):
        nonlocal failed, inflight
        failed += 1
        inflight -= 1
        if failed <= 5:
            sys.stderr.write("ws_load: connection %d failed: %s\n" % (c.i, why))
        sel.unregister(c.sock)
        c.sock.close()
        c.state = -1

    def send(c, data):
        c.out += data
        sel.modify(c.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, c)

    while ready + failed < a.n:
        while started < a.n and inflight < a.window:
            start_one()
        if time.monotonic() - t0 > a.timeout:
            sys.stderr.write("ws_load: timeout: %d ready, %d failed of %d\n" % (ready, failed, a.n))
            break
        for k, ev in sel.select(timeout=1.0):
            c = k.data
            if ev & selectors.EVENT_WRITE and c.out:
                try:
                    sent = c.sock.send(c.out)
                    c.out = c.out[sent:]
                except BlockingIOError:
                    pass
                except OSError as e:
                    fail(c, e)
                    continue
                if c.state == CONNECTING:
                    c.state = HANDSHAKE
                if not c.out:
                    sel.modify(c.sock, selectors.EVENT_READ, c)
            if ev & selectors.EVENT_READ:
                try:
                    data = c.sock.recv(65536)
                except BlockingIOError:
                    continue
                except OSError as e:
                    fail(c, e)
                    continue
                if not data:
                    fail(c, "closed by the broker in state %d" % c.state)
                    continue
                c.buf += data
                if c.state in (CONNECTING, HANDSHAKE):
                    end = c.buf.find(b"\r\n\r\n")
                    if end < 0:
                        continue
                    head, c.buf = c.buf[:end], c.buf[end + 4:]
                    if b" 101 " not in head.split(b"\r\n")[0]:
                        fail(c, head.split(b"\r\n")[0])
                        continue
                    c.state = CONNACK
                    send(c, ws_frame(mqtt_packet(0x10, mqtt_str("MQTT") + bytes([4, 0x02]) +
                                                 struct.pack("!H", 600) + mqtt_str("load-%d" % c.i))))
                frames, c.buf = ws_payloads(c.buf)
                for _, p in frames:
                    if c.state == CONNACK and p[:1] == b"\x20" and p[3:4] == b"\x00":
                        c.state = SUBACK
                        send(c, ws_frame(mqtt_packet(0x82, struct.pack("!H", 1) +
                                                     mqtt_str("load/%d" % c.i) + b"\x00")))
                    elif c.state == SUBACK and p[:1] == b"\x90":
                        c.state = READY
                        ready += 1
                        inflight -= 1
                    elif c.state in (CONNACK, SUBACK):
                        fail(c, "unexpected packet %r" % p[:4])
                        break

    elapsed = time.monotonic() - t0
    print("ready %d %.2f" % (ready, elapsed), flush=True)
    if failed:
        print("failed %d" % failed, flush=True)
    if a.hold is not None:
        time.sleep(a.hold)
    else:
        sys.stdin.read()
    disconnect = ws_frame(b"\xe0\x00")
    for c in conns:
        if c.state == READY:
            try:
                c.sock.setblocking(True)
                c.sock.sendall(disconnect)
            except OSError:
                pass
        if c.state != -1:
            c.sock.close()
    return 1 if failed or ready < a.n else 0


if __name__ == "__main__":
    sys.exit(main())
