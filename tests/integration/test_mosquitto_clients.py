"""Interoperability with the mosquitto command-line clients over TCP:
QoS 0/1/2, retained messages, wills, MQTT 3.1 and 3.1.1."""

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from duplex_fixture import Broker, require_program  # noqa: E402

MARK = "MSG>"
# mosquitto_sub does not flush its -d lines when stdout is a pipe.
STDBUF = ["stdbuf", "-oL"] if shutil.which("stdbuf") else []


class Sub:
    """mosquitto_sub in the background; lines are collected on a thread."""

    def __init__(self, port, topics, qos=0, version="mqttv311", extra=()):
        argv = STDBUF + ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-d",
                "-q", str(qos), "-V", version,
                "-F", MARK + "%t|%q|%r|%p"] + list(extra)
        for t in topics:
            argv += ["-t", t]
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        self.lines = []
        self.cv = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for raw in iter(self.proc.stdout.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self.cv:
                self.lines.append(line)
                self.cv.notify_all()

    def wait_line(self, pred, timeout=5.0):
        deadline = time.monotonic() + timeout
        with self.cv:
            while True:
                for l in self.lines:
                    if pred(l):
                        return l
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cv.wait(left)

    def wait_subscribed(self, n_topics=1):
        # -d prints "Subscribed (mid: 1): <granted qos...>" after SUBACK.
        ok = self.wait_line(lambda l: l.startswith("Subscribed"))
        if not ok:
            raise AssertionError("mosquitto_sub did not get a SUBACK:\n" +
                                 "\n".join(self.lines))

    def messages(self):
        """List of (topic, qos, retain, payload)."""
        with self.cv:
            out = []
            for l in self.lines:
                if l.startswith(MARK):
                    t, q, r, p = l[len(MARK):].split("|", 3)
                    out.append((t, int(q), int(r), p))
            return out

    def wait_messages(self, n, timeout=5.0):
        deadline = time.monotonic() + timeout
        while len(self.messages()) < n and time.monotonic() < deadline:
            with self.cv:
                self.cv.wait(0.05)
        return self.messages()

    def kill(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.reader.join(5)
        self.proc.stdout.close()


def pub(port, topic, messages=None, qos=0, retain=False, null=False,
        version="mqttv311", extra=()):
    argv = ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-t", topic,
            "-q", str(qos), "-V", version] + list(extra)
    if retain:
        argv.append("-r")
    inp = None
    if null:
        argv.append("-n")
    elif isinstance(messages, str):
        argv += ["-m", messages]
    else:
        argv.append("-l")
        inp = "".join(m + "\n" for m in messages).encode()
    r = subprocess.run(argv, input=inp, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=15)
    if r.returncode != 0:
        raise AssertionError("mosquitto_pub failed (%d): %s" %
                             (r.returncode, r.stdout.decode()))


class MosquittoClientsTest(unittest.TestCase):
    def setUp(self):
        for program in ("mosquitto_sub", "mosquitto_pub"):
            require_program(program, "apt install mosquitto-clients")
        self.broker = Broker(listeners=("mqtt",)).start()
        self.port = self.broker.mqtt_port
        self.subs = []

    def tearDown(self):
        for s in self.subs:
            s.kill()
        rc = self.broker.stop()
        self.assertEqual(rc, 0, "broker exit status")

    def sub(self, *a, **kw):
        s = Sub(self.port, *a, **kw)
        self.subs.append(s)
        return s

    def roundtrip(self, qos, version):
        topic = "mc/%s/q%d" % (version, qos)
        n = 20
        s = self.sub([topic], qos=qos, version=version)
        s.wait_subscribed()
        payloads = ["msg-%d" % i for i in range(n)]
        pub(self.port, topic, payloads, qos=qos, version=version)
        got = s.wait_messages(n)
        time.sleep(0.3)  # any duplicate would show up now
        got = s.messages()
        self.assertEqual([m[3] for m in got], payloads)
        for t, q, r, _ in got:
            self.assertEqual(t, topic)
            self.assertEqual(q, qos)
            self.assertEqual(r, 0)

    def test_qos0_mqttv311(self):
        self.roundtrip(0, "mqttv311")

    def test_qos1_mqttv311(self):
        self.roundtrip(1, "mqttv311")

    def test_qos2_mqttv311(self):
        self.roundtrip(2, "mqttv311")

    def test_qos0_mqttv31(self):
        self.roundtrip(0, "mqttv31")

    def test_qos1_mqttv31(self):
        self.roundtrip(1, "mqttv31")

    def test_qos2_mqttv31(self):
        self.roundtrip(2, "mqttv31")

    def test_mixed_versions(self):
        s31 = self.sub(["mix/t"], qos=2, version="mqttv31")
        s311 = self.sub(["mix/t"], qos=2, version="mqttv311")
        s31.wait_subscribed()
        s311.wait_subscribed()
        pub(self.port, "mix/t", "from311", qos=2, version="mqttv311")
        pub(self.port, "mix/t", "from31", qos=1, version="mqttv31")
        for s in (s31, s311):
            got = s.wait_messages(2)
            # Two publishers: no ordering guarantee between them.
            self.assertEqual(sorted((m[3], m[1]) for m in got),
                             [("from31", 1), ("from311", 2)])

    def test_retained_and_clear(self):
        pub(self.port, "ret/a", "keep-me", qos=1, retain=True)
        pub(self.port, "ret/b", "other", qos=0, retain=True)
        s = self.sub(["ret/#"], qos=1)
        got = s.wait_messages(2)
        self.assertEqual(sorted((m[0], m[2], m[3]) for m in got),
                         [("ret/a", 1, "keep-me"), ("ret/b", 1, "other")])
        # Live message on an existing subscription: retain flag 0.
        pub(self.port, "ret/a", "live", qos=1, retain=True)
        got = s.wait_messages(3)
        self.assertEqual(got[2][2:], (0, "live"))
        # -r -n clears the retained message.
        pub(self.port, "ret/a", retain=True, null=True, qos=1)
        got = s.wait_messages(4)
        self.assertEqual(len(got), 4)
        self.assertEqual(got[3][0], "ret/a")
        self.assertEqual(got[3][3], "")
        s2 = self.sub(["ret/#"], qos=1)
        got2 = s2.wait_messages(1)
        time.sleep(0.5)
        got2 = s2.messages()
        self.assertEqual([(m[0], m[3]) for m in got2], [("ret/b", "other")])

    def test_will_on_killed_client_not_on_disconnect(self):
        watcher = self.sub(["will/#"], qos=1)
        watcher.wait_subscribed()

        # A client that disconnects cleanly (mosquitto_pub always sends
        # DISCONNECT) must not have its will published.
        pub(self.port, "other/topic", "x", qos=1,
            extra=["--will-topic", "will/polite", "--will-payload", "nope",
                   "--will-qos", "1"])
        # Same for a subscriber that exits after one message (-C 1).
        polite = self.sub(["polite/t"], qos=1,
                          extra=["-C", "1", "--will-topic", "will/polite2",
                                 "--will-payload", "nope", "--will-qos", "1"])
        polite.wait_subscribed()
        pub(self.port, "polite/t", "bye", qos=1)
        polite.proc.wait(5)
        self.assertEqual(polite.proc.returncode, 0)

        # A killed client: the will is published.
        victim = self.sub(["victim/t"], qos=0,
                          extra=["--will-topic", "will/victim",
                                 "--will-payload", "victim died",
                                 "--will-qos", "1", "-i", "victim-client"])
        victim.wait_subscribed()
        victim.kill(signal.SIGKILL)

        got = watcher.wait_messages(1, timeout=5)
        time.sleep(0.5)
        got = watcher.messages()
        self.assertEqual([(m[0], m[3]) for m in got],
                         [("will/victim", "victim died")])
        self.assertEqual(got[0][1], 1)


if __name__ == "__main__":
    unittest.main(verbosity=2)
