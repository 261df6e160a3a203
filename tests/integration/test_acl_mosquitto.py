"""auth/acl against the real mosquitto: one ACL file, one mosquitto started
with it (acl_file, allow_anonymous true, a password_file made with
mosquitto_passwd -b), and a table of (user, client id, topic, access) cases.
For each case what mosquitto allows is observed over MQTT 5 (paho-mqtt):

  write      the user publishes; a subscriber with full access sees the
             message or not
  read       the user subscribes to a filter, a full-access client publishes
             to a topic under it; the user receives it or not ($SYS rows: the
             retained $SYS/broker/version mosquitto sends on subscribe)
  subscribe  the SUBACK reason code for a filter

and compared with what tests/auth's acl-check (auth/acl.cc) answers for the
same file ($ACL_CHECK, set by meson). Rows marked `differs` are the
documented differences of auth/acl.h: for them the test asserts that the
two still differ, so the header cannot go stale silently.

One mosquitto process, all cases in one run (a few seconds). Under CI=true
a missing mosquitto or paho-mqtt is a failure, not a skip.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from duplex_fixture import (missing_peer, pick_free_port,  # noqa: E402
                            require_module, require_program)

ACL = """\
# mixed rules for the cross-check; see the table below
topic read anon/#
topic write anon/in

user admin
topic readwrite #
topic readwrite $app/#
topic read $SYS/#

user bob
topic readwrite bob/#
topic deny bob/secret
topic read sp ace/x y
topic write shared/+/in
topic read pat/#

user alice
topic read bob/public
topic read alice/#

user hash
topic readwrite #

user a
topic read nothing

user a/b
topic read nothing

user +
topic read nothing

pattern readwrite users/%u/#
pattern write clients/%c
pattern read p/x%u
pattern deny pat/blocked
"""

USERS = {"admin": "pw-admin", "bob": "pw-bob", "alice": "pw-alice",
         "hash": "pw-hash", "a": "pw-a", "a/b": "pw-ab", "+": "pw-plus"}

SUBSCRIBE_ALL = ("mosquitto grants every SUBSCRIBE (its acl_file check "
                 "returns success for subscribe); duplex checks coverage")
PATTERN_DENY = ("mosquitto checks a user's topic rules before patterns, so "
                "`topic read pat/#` beats `pattern deny pat/blocked`")
SLASH = ("for patterns mosquitto 2.0.11 refuses '+' and '#' in a username or "
         "client id, not '/' (user a/b gets users/a/b/#, inside user a's users/a/#)")

# (kind, user (None = anonymous), client id, filter or topic,
#  topic for read rows, differs: reason or None)
CASES = [
    # writes
    ("write", "bob", "w-bob1", "bob/x", None, None),
    ("write", "bob", "w-bob2", "bob/secret", None, None),  # deny wins
    ("write", "bob", "w-bob3", "alice/x", None, None),
    ("write", "bob", "w-bob4", "shared/q/in", None, None),
    ("write", "bob", "w-bob5", "sp ace/x y", None, None),  # read only
    ("write", "bob", "w-bob6", "users/bob/x", None, None),  # %u
    ("write", "bob", "w-bob7", "p/xbob", None, None),  # read-only pattern
    ("write", "alice", "w-alice1", "bob/public", None, None),
    ("write", "alice", "w-alice2", "users/bob/x", None, None),
    ("write", None, "w-anon1", "anon/in", None, None),
    ("write", None, "w-anon2", "anon/x", None, None),
    ("write", None, "w-anon3", "users//x", None, None),  # %u: not anonymous
    ("write", None, "w-anon4", "clients/w-anon4", None, None),  # %c: anonymous too
    ("write", "bob", "w-cl1", "clients/w-cl1", None, None),
    ("write", "bob", "w-cl2", "clients/w-cl1", None, None),
    ("write", "+", "w-plus1", "users/bob/x", None, None),
    ("write", "bob", "w+c1", "bob/x", None, None),  # own topic rules still apply
    ("write", "bob", "w+c2", "users/bob/x", None, None),  # no patterns for it
    ("write", "a/b", "w-ab1", "users/a/b/x", None, SLASH),
    ("write", "bob", "w/c1", "clients/w/c1", None, SLASH),
    ("write", "admin", "w-admin1", "$app/x", None, None),
    ("write", "hash", "w-hash1", "$app/x", None, None),  # '#' does not grant $app
    ("write", "hash", "w-hash2", "a/b", None, None),
    # reads: filter, then the topic a full-access client publishes to
    ("read", "bob", "r-bob1", "bob/#", "bob/x", None),
    ("read", "bob", "r-bob2", "bob/#", "bob/secret", None),
    ("read", "bob", "r-bob3", "sp ace/x y", "sp ace/x y", None),
    ("read", "bob", "r-bob4", "pat/#", "pat/blocked", PATTERN_DENY),
    ("read", "bob", "r-bob5", "pat/#", "pat/open", None),
    ("read", "bob", "r-bob6", "p/xbob", "p/xbob", None),  # %u inside a level
    ("read", "alice", "r-alice1", "p/xalice", "p/xalice", None),
    ("read", "alice", "r-alice2", "p/xbob", "p/xbob", None),
    ("read", "alice", "r-alice3", "bob/#", "bob/public", None),
    ("read", "alice", "r-alice4", "bob/#", "bob/other", None),
    ("read", None, "r-anon1", "anon/#", "anon/x", None),
    ("read", None, "r-anon2", "#", "bob/x", None),
    ("read", "hash", "r-hash1", "#", "a/b", None),
    ("read", "hash", "r-hash2", "$app/#", "$app/x", None),  # '#' vs '$'
    ("read", "hash", "r-hash3", "$SYS/broker/version", "$SYS/broker/version", None),
    ("read", "admin", "r-admin1", "$SYS/broker/version", "$SYS/broker/version", None),
    ("read", "+", "r-plus1", "users/#", "users/bob/x", None),
    ("read", "a", "r-a1", "users/a/#", "users/a/b/x", None),
    ("read", "a/b", "r-ab1", "users/a/b/#", "users/a/b/x", SLASH),
    ("read", "bob", "r+c1", "bob/#", "bob/y", None),
    ("read", "bob", "r+c2", "users/bob/#", "users/bob/y", None),
    # subscribe: the SUBACK
    ("subscribe", "bob", "s-bob1", "bob/#", None, None),
    ("subscribe", "bob", "s-bob2", "bob/+", None, None),
    ("subscribe", "bob", "s-bob3", "users/bob/#", None, None),
    ("subscribe", "alice", "s-alice1", "bob/public", None, None),
    ("subscribe", "admin", "s-admin1", "$SYS/#", None, None),
    ("subscribe", "admin", "s-admin2", "#", None, None),
    ("subscribe", "alice", "s-alice2", "bob/#", None, SUBSCRIBE_ALL),
    ("subscribe", "bob", "s-bob4", "#", None, SUBSCRIBE_ALL),
    ("subscribe", "bob", "s-bob5", "bob/secret", None, SUBSCRIBE_ALL),
    ("subscribe", "hash", "s-hash1", "$SYS/#", None, SUBSCRIBE_ALL),
    ("subscribe", None, "s-anon1", "#", None, SUBSCRIBE_ALL),
    ("subscribe", "bob", "s-bob6", "users/+/x", None, SUBSCRIBE_ALL),
]


class Client:
    """One paho-mqtt MQTT 5 connection on its own network thread."""

    def __init__(self, mqtt, port, user, client_id):
        self.c = mqtt.Client(client_id=client_id, protocol=mqtt.MQTTv5)
        if user is not None:
            self.c.username_pw_set(user, USERS[user])
        self.messages = []
        self.cv = threading.Condition()
        self.connack = None
        self.suback = None
        self.c.on_connect = self._on_connect
        self.c.on_message = self._on_message
        self.c.on_subscribe = self._on_subscribe
        self.c.connect("127.0.0.1", port)
        self.c.loop_start()
        self._wait(lambda: self.connack is not None, "CONNACK")
        if self.connack != 0:
            raise AssertionError("%s/%s: CONNACK %s" % (user, client_id, self.connack))

    def _wait(self, pred, what, timeout=5.0):
        deadline = time.monotonic() + timeout
        with self.cv:
            while not pred():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("timed out waiting for " + what)
                self.cv.wait(left)

    def _on_connect(self, c, userdata, flags, rc, props=None):
        with self.cv:
            self.connack = getattr(rc, "value", rc)
            self.cv.notify_all()

    def _on_message(self, c, userdata, msg):
        with self.cv:
            self.messages.append((msg.topic, bytes(msg.payload)))
            self.cv.notify_all()

    def _on_subscribe(self, c, userdata, mid, reason_codes, props=None):
        with self.cv:
            self.suback = [getattr(r, "value", r) for r in reason_codes]
            self.cv.notify_all()

    def subscribe(self, filt):
        """True when the SUBACK grants the filter."""
        with self.cv:
            self.suback = None
        self.c.subscribe(filt, qos=1)
        self._wait(lambda: self.suback is not None, "SUBACK for " + filt)
        return self.suback[0] < 0x80

    def publish(self, topic, payload):
        info = self.c.publish(topic, payload, qos=1)
        info.wait_for_publish(5)  # PUBACK (mosquitto acks a denied one too)

    def got(self, pred):
        with self.cv:
            return any(pred(t, p) for t, p in self.messages)

    def wait_got(self, pred, what):
        self._wait(lambda: any(pred(t, p) for t, p in self.messages), what)

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()


class AclAgainstMosquitto(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mqtt = require_module("paho.mqtt.client", "python3-paho-mqtt",
                                  "apt install python3-paho-mqtt")
        binary = os.environ.get("MOSQUITTO_BIN") or shutil.which("mosquitto")
        if not binary and os.access("/usr/sbin/mosquitto", os.X_OK):
            binary = "/usr/sbin/mosquitto"
        if not binary:
            missing_peer("mosquitto", "apt install mosquitto")
        passwd = require_program("mosquitto_passwd", "apt install mosquitto")
        cls.acl_check = os.environ.get("ACL_CHECK")
        if not cls.acl_check:
            raise RuntimeError("ACL_CHECK is not set (meson sets it to tests/auth/acl-check)")

        cls.dir = tempfile.mkdtemp(prefix="duplex-acl-")
        cls.acl_path = os.path.join(cls.dir, "acl")
        with open(cls.acl_path, "w") as f:
            f.write(ACL)
        pw_path = os.path.join(cls.dir, "passwd")
        first = True
        for user, pw in USERS.items():
            subprocess.run([passwd] + (["-c"] if first else []) + ["-b", pw_path, user, pw],
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            first = False
        # Started as root, mosquitto runs as user "mosquitto": let it read
        # the (test-only) files.
        os.chmod(cls.dir, 0o755)
        for name in os.listdir(cls.dir):
            os.chmod(os.path.join(cls.dir, name), 0o644)
        cls.port = pick_free_port()
        conf_path = os.path.join(cls.dir, "mosquitto.conf")
        with open(conf_path, "w") as f:
            f.write("listener %d 127.0.0.1\nallow_anonymous true\npersistence false\n"
                    "acl_file %s\npassword_file %s\nlog_dest stderr\n"
                    "log_type error\nlog_type warning\nlog_type notice\nlog_type information\n"
                    % (cls.port, cls.acl_path, pw_path))
        cls.log = []
        cls.log_cv = threading.Condition()
        cls.proc = subprocess.Popen([binary, "-c", conf_path], stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        threading.Thread(target=cls._read_log, daemon=True).start()
        deadline = time.monotonic() + 10
        with cls.log_cv:
            while not any(" running" in l for l in cls.log):
                left = deadline - time.monotonic()
                if left <= 0 or cls.proc.poll() is not None:
                    cls.tearDownClass()
                    raise RuntimeError("mosquitto did not start:\n" + "\n".join(cls.log))
                cls.log_cv.wait(min(left, 0.2))

    @classmethod
    def _read_log(cls):
        for raw in iter(cls.proc.stdout.readline, b""):
            with cls.log_cv:
                cls.log.append(raw.decode("utf-8", "replace").rstrip("\n"))
                cls.log_cv.notify_all()

    @classmethod
    def tearDownClass(cls):
        if cls.proc.poll() is None:
            cls.proc.terminate()
            try:
                cls.proc.wait(5)
            except subprocess.TimeoutExpired:
                cls.proc.kill()
                cls.proc.wait()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def mosquitto_answers(self):
        """What mosquitto allows, one bool per CASES row."""
        mqtt, port = self.mqtt, self.port
        admin = Client(mqtt, port, "admin", "x-admin")
        self.assertTrue(admin.subscribe("#"))
        self.assertTrue(admin.subscribe("$app/#"))
        answers = [None] * len(CASES)
        readers = {}
        clients = [admin]
        try:
            for i, (kind, user, cid, filt, topic, _) in enumerate(CASES):
                if kind in ("read", "subscribe"):
                    c = Client(mqtt, port, user, cid)
                    clients.append(c)
                    granted = c.subscribe(filt)
                    if kind == "subscribe":
                        answers[i] = granted
                    else:
                        readers[i] = c
            for i, (kind, user, cid, topic, _, _) in enumerate(CASES):
                if kind == "write":
                    c = Client(mqtt, port, user, cid)
                    c.publish(topic, b"w%d" % i)
                    c.close()
            for i, (kind, _, _, _, topic, _) in enumerate(CASES):
                if kind == "read" and not topic.startswith("$SYS"):
                    admin.publish(topic, b"r%d" % i)
            # mosquitto routes each publish before it reads the next one from
            # the same connection: once this comes back, every message above
            # has been handed to its subscribers' sockets.
            admin.publish("x/sync", b"sync")
            admin.wait_got(lambda t, p: t == "x/sync", "the sync message")
            time.sleep(0.3)  # for the other clients' network threads
            for i, (kind, _, _, topic, _, _) in enumerate(CASES):
                if kind == "write":
                    answers[i] = admin.got(lambda t, p, i=i: p == b"w%d" % i)
            for i, c in readers.items():
                topic = CASES[i][4]
                if topic.startswith("$SYS"):
                    answers[i] = c.got(lambda t, p, topic=topic: t == topic)
                else:
                    answers[i] = c.got(lambda t, p, i=i: p == b"r%d" % i)
        finally:
            for c in clients:
                c.close()
        return answers

    def duplex_answers(self):
        lines = []
        for kind, user, cid, filt, topic, _ in CASES:
            if kind == "read":
                lines.append("%s\t%s\t%s\tread" % (user or "", cid, topic))
            else:
                lines.append("%s\t%s\t%s\t%s" % (user or "", cid, filt, kind))
        out = subprocess.run([self.acl_check, self.acl_path], input="\n".join(lines) + "\n",
                             capture_output=True, text=True, timeout=10)
        self.assertEqual(out.returncode, 0, out.stderr)
        answers = out.stdout.split()
        self.assertEqual(len(answers), len(CASES), out.stdout)
        return [a == "allow" for a in answers]

    def test_same_answers_as_mosquitto(self):
        started = time.monotonic()
        mosq = self.mosquitto_answers()
        dup = self.duplex_answers()
        word = {True: "allow", False: "deny"}
        table, wrong = [], []
        for (kind, user, cid, filt, topic, differs), m, d in zip(CASES, mosq, dup):
            what = "%-9s user=%-6s client=%-9s %s%s" % (
                kind, user if user is not None else "(anon)", cid, filt,
                " -> " + topic if topic else "")
            row = "%s  mosquitto=%s duplex=%s" % (what, word[m], word[d])
            table.append(row + ("  [differs: %s]" % differs if differs else ""))
            if differs and m == d:
                wrong.append(row + "  (documented difference no longer holds: %s)" % differs)
            elif not differs and m != d:
                wrong.append(row)
        sys.stderr.write("\n".join(table) + "\n%d cases in %.1f s\n"
                         % (len(CASES), time.monotonic() - started))
        self.assertEqual(wrong, [], "auth/acl and mosquitto disagree:\n" + "\n".join(wrong))


if __name__ == "__main__":
    unittest.main(verbosity=2)
