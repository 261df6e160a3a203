#!/usr/bin/python3
"""Cross integration test: the ARM duplex daemon under qemu-user serves
native (x86-64) clients over loopback.

    /usr/bin/python3 tools/cross/loopback_test.py [--wrapper "qemu-arm -L /opt/sysroots/armhf"] DAEMON

Starts DAEMON (through the wrapper, if any) with
``--ws 127.0.0.1:0 --mqtt 127.0.0.1:0 --stomp off``, reads the ports from
its ``listening <kind> 127.0.0.1:<port>`` log lines, then checks that
messages pass both ways between
  * mosquitto_sub / mosquitto_pub (native, MQTT over TCP) and
  * a paho-mqtt client (Debian's python3-paho-mqtt) over WebSocket,
plus a retained message delivered to a late WebSocket subscriber.
Prints one line per check and "loopback: N passed, N failed"; exits 1 on a
failure. Needs /usr/bin/python3 (Debian's, with paho-mqtt) and
mosquitto-clients.
"""

import argparse
import os
import queue
import re
import shlex
import signal
import subprocess
import sys
import threading
import time

for v in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
    os.environ.pop(v, None)

import paho.mqtt.client as mqtt  # noqa: E402

LISTENING = re.compile(r"listening (\w+) 127\.0\.0\.1:(\d+)")
TIMEOUT = 20.0  # generous: everything the broker does runs under emulation


class Daemon:
    def __init__(self, argv):
        self.lines = []
        self.ports = {}
        self.cv = threading.Condition()
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        threading.Thread(target=self._read, daemon=True).start()
        deadline = time.monotonic() + TIMEOUT
        with self.cv:
            while not {"ws", "mqtt"} <= self.ports.keys():
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    self.stop()
                    raise RuntimeError("daemon did not listen:\n" + "\n".join(self.lines))
                self.cv.wait(min(left, 0.2))

    def _read(self):
        for raw in iter(self.proc.stdout.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip()
            with self.cv:
                self.lines.append(line)
                m = LISTENING.search(line)
                if m:
                    self.ports[m.group(1)] = int(m.group(2))
                self.cv.notify_all()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
                return None
        return self.proc.returncode


class WsClient:
    """paho-mqtt over WebSocket (path /mqtt, subprotocol mqtt)."""

    def __init__(self, port, client_id):
        self.messages = queue.Queue()
        self.connected = threading.Event()
        self.subscribed = threading.Event()
        self.c = mqtt.Client(client_id=client_id, protocol=mqtt.MQTTv311, transport="websockets")
        self.c.ws_set_options(path="/mqtt")
        self.c.on_connect = lambda c, u, f, rc: rc == 0 and self.connected.set()
        self.c.on_subscribe = lambda c, u, mid, q: self.subscribed.set()
        self.c.on_message = lambda c, u, m: self.messages.put(m)
        self.c.connect("127.0.0.1", port, 30)
        self.c.loop_start()
        if not self.connected.wait(TIMEOUT):
            raise RuntimeError("paho (websockets) did not connect")

    def subscribe(self, topic, qos=1):
        self.subscribed.clear()
        self.c.subscribe(topic, qos)
        if not self.subscribed.wait(TIMEOUT):
            raise RuntimeError("no SUBACK for " + topic)

    def publish(self, topic, payload, qos=1):
        self.c.publish(topic, payload, qos).wait_for_publish(TIMEOUT)

    def expect(self, topic, payload):
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            try:
                m = self.messages.get(timeout=deadline - time.monotonic())
            except queue.Empty:
                break
            if m.topic == topic and m.payload == payload:
                return m
        raise AssertionError("paho (websockets) did not receive %r on %s" % (payload, topic))

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()


def mosquitto_sub_ready(port, topic):
    """Starts mosquitto_sub -d and waits for its SUBACK; returns the process.
    (stdbuf: its debug lines are stdio-buffered on a pipe otherwise.)"""
    p = subprocess.Popen(["stdbuf", "-oL", "mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-t", topic,
                          "-q", "1", "-C", "1", "-W", str(int(TIMEOUT)), "-d", "-i", "cross-sub"],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = []
    for line in p.stdout:
        out.append(line)
        if "received SUBACK" in line:
            return p, out
    p.wait()
    raise RuntimeError("mosquitto_sub got no SUBACK:\n" + "".join(out))


def check_ws_to_tcp(d):
    payload = "from-ws-%d" % os.getpid()
    sub, out = mosquitto_sub_ready(d.ports["mqtt"], "cross/tcp")
    ws = WsClient(d.ports["ws"], "cross-ws-pub")
    try:
        ws.publish("cross/tcp", payload.encode())
        rest, _ = sub.communicate(timeout=TIMEOUT)
    finally:
        ws.close()
    assert payload in rest.splitlines(), "mosquitto_sub did not print %r:\n%s" % (payload, "".join(out) + rest)


def check_tcp_to_ws(d):
    payload = b"from-tcp-%d" % os.getpid()
    ws = WsClient(d.ports["ws"], "cross-ws-sub")
    try:
        ws.subscribe("cross/ws/#")
        subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(d.ports["mqtt"]), "-q", "1",
                        "-t", "cross/ws/a", "-m", payload.decode(), "-i", "cross-pub"],
                       check=True, timeout=TIMEOUT)
        ws.expect("cross/ws/a", payload)
    finally:
        ws.close()


def check_retained_to_late_ws(d):
    payload = b"retained-%d" % os.getpid()
    subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(d.ports["mqtt"]), "-q", "1", "-r",
                    "-t", "cross/retained", "-m", payload.decode(), "-i", "cross-pub-r"],
                   check=True, timeout=TIMEOUT)
    ws = WsClient(d.ports["ws"], "cross-ws-late")
    try:
        ws.subscribe("cross/retained")
        m = ws.expect("cross/retained", payload)
        assert m.retain, "retained message delivered without the retain flag"
    finally:
        ws.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--wrapper", default=os.environ.get("DUPLEX_WRAPPER", ""),
                    help='command prefix, e.g. "qemu-arm -L /opt/sysroots/armhf"')
    ap.add_argument("daemon")
    a = ap.parse_args()
    argv = shlex.split(a.wrapper) + [a.daemon, "--ws", "127.0.0.1:0", "--mqtt", "127.0.0.1:0",
                                     "--stomp", "off", "--web-root", "/nonexistent"]
    print("loopback: starting " + " ".join(argv), flush=True)
    t0 = time.monotonic()
    d = Daemon(argv)
    print("loopback: listening after %.2f s: %s" % (time.monotonic() - t0, d.ports), flush=True)
    passed = failed = 0
    try:
        for check in (check_ws_to_tcp, check_tcp_to_ws, check_retained_to_late_ws):
            t = time.monotonic()
            try:
                check(d)
                passed += 1
                print("  ok   %s (%.2f s)" % (check.__name__, time.monotonic() - t), flush=True)
            except Exception as e:  # noqa: BLE001
                failed += 1
                print("  FAIL %s: %s" % (check.__name__, e), flush=True)
    finally:
        rc = d.stop()
    if rc != 0:
        failed += 1
        print("  FAIL daemon exit status %s after SIGTERM" % rc)
    if failed:
        print("--- daemon log ---\n" + "\n".join(d.lines))
    print("loopback: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
