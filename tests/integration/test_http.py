"""The web port's HTTP side against hostile and careless requests: security
headers on every response, request heads up to 16 KiB (browsers send every
cookie of the host), files only from inside web_root (no symlinks out), a 404
is not a warning in the log."""
import os
import socket
import tempfile
import unittest

from duplex_fixture import Broker


def get(port, path, extra=""):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{extra}\r\n".encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return int(lines[0].split()[1]), headers, body


class HttpTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory()
        root = os.path.join(cls.dir.name, "web")
        os.makedirs(root)
        with open(os.path.join(root, "index.html"), "w") as f:
            f.write("<p>page</p>")
        with open(os.path.join(cls.dir.name, "secret.txt"), "w") as f:
            f.write("SECRET-OUTSIDE")
        os.symlink(os.path.join(cls.dir.name, "secret.txt"), os.path.join(root, "leak.txt"))
        os.symlink(cls.dir.name, os.path.join(root, "up"))
        cls.broker = Broker(listeners=("ws",), extra_args=("--web-root", root))
        cls.broker.start()
        cls.port = cls.broker.ws_port

    @classmethod
    def tearDownClass(cls):
        cls.broker.stop()
        cls.dir.cleanup()

    def test_responses_carry_nosniff_csp_and_frame_protection(self):
        for path in ("/", "/missing"):
            status, h, _ = get(self.port, path)
            self.assertIn(status, (200, 404))
            self.assertEqual(h.get("x-content-type-options"), "nosniff")
            self.assertEqual(h.get("x-frame-options"), "DENY")
            self.assertIn("frame-ancestors 'none'", h.get("content-security-policy", ""))
            self.assertIn("default-src 'self'", h.get("content-security-policy", ""))

    def test_request_heads_of_8_and_15_kib_are_served(self):
        for size in (8 * 1024, 15 * 1024):
            status, _, body = get(self.port, "/", "Cookie: session=%s\r\n" % ("c" * size))
            self.assertEqual(status, 200, size)
            self.assertIn(b"page", body)

    def test_request_head_over_16_kib_is_431(self):
        status, _, _ = get(self.port, "/", "Cookie: session=%s\r\n" % ("c" * 17 * 1024))
        self.assertEqual(status, 431)

    def test_symlinks_out_of_web_root_are_not_followed(self):
        for path in ("/leak.txt", "/up/secret.txt"):
            status, _, body = get(self.port, path)
            self.assertEqual(status, 404, path)
            self.assertNotIn(b"SECRET-OUTSIDE", body)

    def test_a_404_is_not_a_warning(self):
        status, _, _ = get(self.port, "/no-such-file.js")
        self.assertEqual(status, 404)
        self.assertFalse(self.broker.log_contains(r" (warn|error) "), self.broker.log_text())


if __name__ == "__main__":
    unittest.main()
