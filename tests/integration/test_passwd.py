"""`duplex passwd` writes mosquitto's password format: a real mosquitto
broker (password_file, allow_anonymous false) accepts mosquitto_pub with the
right password and refuses a wrong one; and files written by mosquitto_passwd
load in duplex's parser (auth-passwd-check, DUPLEX_PASSWD_CHECK) and can be
edited by `duplex passwd`."""

import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from duplex_fixture import missing_peer, pick_free_port, require_program  # noqa: E402


def mosquitto_bin():
    path = os.environ.get("MOSQUITTO_BIN") or shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not os.access(path, os.X_OK):
        missing_peer("mosquitto", "apt install mosquitto")
    return path


class Mosquitto:
    """mosquitto on an ephemeral 127.0.0.1 port with a password file."""

    def __init__(self, password_file, workdir):
        self.port = pick_free_port()
        self.conf = os.path.join(workdir, "mosquitto.conf")
        lines = ["listener %d 127.0.0.1" % self.port, "allow_anonymous false",
                 "password_file " + password_file, "persistence false",
                 "log_dest stderr", "log_type all"]
        if os.geteuid() == 0:
            lines.append("user root")  # else it drops to "mosquitto" and cannot read a 0600 file of root's
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.lines = []
        self.cv = threading.Condition()
        self.proc = subprocess.Popen([mosquitto_bin(), "-c", self.conf], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        threading.Thread(target=self._read, daemon=True).start()
        if not self.wait_log(r"mosquitto version \S+ running", 10):
            self.stop()
            raise RuntimeError("mosquitto did not start:\n" + "\n".join(self.lines))

    def _read(self):
        for raw in iter(self.proc.stdout.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            sys.stderr.write("[mosquitto] " + line + "\n")
            with self.cv:
                self.lines.append(line)
                self.cv.notify_all()

    def wait_log(self, regex, timeout):
        r = re.compile(regex)
        deadline = time.monotonic() + timeout
        with self.cv:
            while not any(r.search(l) for l in self.lines):
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    return False
                self.cv.wait(left)
            return True

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()


class PasswdTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.duplex = os.environ.get("DUPLEX_BIN")
        if not cls.duplex:
            raise RuntimeError("DUPLEX_BIN is not set")
        cls.check = os.environ.get("DUPLEX_PASSWD_CHECK")
        if not cls.check:
            raise RuntimeError("DUPLEX_PASSWD_CHECK is not set")
        cls.pub = require_program("mosquitto_pub", "apt install mosquitto-clients")
        cls.mosquitto_passwd = require_program("mosquitto_passwd", "apt install mosquitto")
        mosquitto_bin()

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="duplex-it-passwd-")
        self.file = os.path.join(self.dir, "passwords")
        self.broker = None

    def tearDown(self):
        if self.broker:
            self.broker.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def read(self):
        with open(self.file) as f:
            return f.read()

    def passwd(self, *args, stdin=None):
        return subprocess.run([self.duplex, "passwd"] + list(args), input=stdin, capture_output=True,
                              text=True, timeout=30)

    def publish(self, user, password):
        r = subprocess.run([self.pub, "-h", "127.0.0.1", "-p", str(self.broker.port), "-u", user, "-P", password,
                            "-t", "duplex/passwd-test", "-m", "hello", "-q", "1"],
                           capture_output=True, text=True, timeout=20)
        return r.returncode, r.stdout + r.stderr

    def assert_accepted(self, user, password):
        rc, out = self.publish(user, password)
        self.assertEqual(rc, 0, "mosquitto refused %s: %s" % (user, out))

    def assert_refused(self, user, password):
        rc, out = self.publish(user, password)
        self.assertNotEqual(rc, 0, "mosquitto accepted %s with a wrong password" % user)
        self.assertIn("not authorised", out)

    def duplex_accepts(self, user, password):
        r = subprocess.run([self.check, self.file, user, password], capture_output=True, text=True, timeout=30)
        self.assertNotEqual(r.returncode, 2, r.stderr)
        return r.returncode == 0

    def test_files_written_by_duplex_passwd_work_in_mosquitto(self):
        r = self.passwd("-c", "-b", self.file, "alice", "correct horse")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(stat.S_IMODE(os.stat(self.file).st_mode), 0o600)
        r = self.passwd("-b", "-I", "101", self.file, "bob", "Tr0ub4dor&3")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.passwd(self.file, "carol", stdin="pässwörd\n")  # one line from a pipe
        self.assertEqual(r.returncode, 0, r.stderr)
        text = self.read()
        self.assertRegex(text, r"^alice:\$7\$1000\$[A-Za-z0-9+/]{16}\$[A-Za-z0-9+/]{86}==\n"
                               r"bob:\$7\$101\$[A-Za-z0-9+/]{16}\$[A-Za-z0-9+/]{86}==\n"
                               r"carol:\$7\$1000\$")
        self.broker = Mosquitto(self.file, self.dir)
        self.assert_accepted("alice", "correct horse")
        self.assert_accepted("bob", "Tr0ub4dor&3")
        self.assert_accepted("carol", "pässwörd")
        self.assert_refused("alice", "correct horse!")
        self.assert_refused("alice", "Tr0ub4dor&3")
        self.assert_refused("nobody", "correct horse")

    def test_deleted_user_is_refused_by_mosquitto(self):
        self.assertEqual(self.passwd("-c", "-b", self.file, "alice", "a-pass").returncode, 0)
        self.assertEqual(self.passwd("-b", self.file, "bob", "b-pass").returncode, 0)
        r = self.passwd("-D", self.file, "bob")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("bob:", self.read())
        self.broker = Mosquitto(self.file, self.dir)
        self.assert_accepted("alice", "a-pass")
        self.assert_refused("bob", "b-pass")

    def test_mosquitto_passwd_files_load_in_duplex_and_are_edited_by_it(self):
        subprocess.run([self.mosquitto_passwd, "-c", "-b", self.file, "mosq7", "seven pass"], check=True)
        subprocess.run([self.mosquitto_passwd, "-b", "-I", "2000", self.file, "mosq7b", "more rounds"], check=True)
        subprocess.run([self.mosquitto_passwd, "-b", "-H", "sha512", self.file, "mosq6", "six pass"], check=True)
        self.assertTrue(self.duplex_accepts("mosq7", "seven pass"))
        self.assertTrue(self.duplex_accepts("mosq7b", "more rounds"))
        self.assertTrue(self.duplex_accepts("mosq6", "six pass"))
        self.assertFalse(self.duplex_accepts("mosq7", "six pass"))
        self.assertFalse(self.duplex_accepts("mosq6", "seven pass"))
        self.assertFalse(self.duplex_accepts("nobody", "seven pass"))
        # duplex passwd changes one user and keeps mosquitto_passwd's lines.
        before = self.read().splitlines()
        r = self.passwd("-b", self.file, "mosq7b", "changed")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.passwd("-b", self.file, "dup", "dup pass")
        self.assertEqual(r.returncode, 0, r.stderr)
        after = self.read().splitlines()
        self.assertEqual(after[0], before[0])
        self.assertEqual(after[2], before[2])
        self.assertNotEqual(after[1], before[1])
        self.broker = Mosquitto(self.file, self.dir)
        self.assert_accepted("mosq7", "seven pass")
        self.assert_accepted("mosq6", "six pass")
        self.assert_accepted("mosq7b", "changed")
        self.assert_refused("mosq7b", "more rounds")
        self.assert_accepted("dup", "dup pass")
        # And mosquitto_passwd reads what duplex wrote.
        subprocess.run([self.mosquitto_passwd, "-D", self.file, "dup"], check=True)
        self.assertTrue(self.duplex_accepts("mosq7b", "changed"))
        self.assertFalse(self.duplex_accepts("dup", "dup pass"))

    def test_refusals(self):
        self.assertEqual(self.passwd("-c", "-b", self.file, "alice", "a").returncode, 0)
        original = self.read()
        for args, message in [
                (["-b", self.file, "a:b", "x"], "must not contain ':'"),
                (["-b", self.file, "a\x01b", "x"], "control characters"),
                (["-b", self.file, "bob", ""], "empty"),
                (["-c", "-D", self.file, "alice"], "cannot be used together"),
                (["-D", "-b", self.file, "alice", "x"], "cannot be used together"),
                (["-b", "-I", "0", self.file, "bob", "x"], "iterations"),
                (["-D", self.file, "nobody"], "not in"),
                (["-b", os.path.join(self.dir, "missing"), "bob", "x"], "No such file"),
                ([self.file, "bob"], "no password on standard input")]:
            r = self.passwd(*args, stdin="")
            self.assertEqual(r.returncode, 1, args)
            self.assertIn(message, r.stderr, args)
        self.assertEqual(self.read(), original)
        # A file that does not parse is left alone.
        with open(self.file, "a") as f:
            f.write("broken line\n")
        r = self.passwd("-b", self.file, "bob", "x")
        self.assertEqual(r.returncode, 1)
        self.assertIn("line 2", r.stderr)
        self.assertNotIn("bob:", self.read())
        self.assertEqual([n for n in os.listdir(self.dir) if ".tmp-" in n], [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
