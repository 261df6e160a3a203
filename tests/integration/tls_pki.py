"""A throw-away PKI for the TLS tests, made with the openssl CLI in a
temporary directory (removed by cleanup()):

  ca.crt / ca.key            the test CA (signs everything below)
  server.crt / server.key    CN=localhost, SAN localhost + 127.0.0.1
  server2.crt / server2.key  the same names, another key (certificate reload)
  expired.crt                server.key's certificate, expired (notAfter in the past)
  client.crt / client.key    CN=device-7 (a client certificate)
  other-ca.crt / .key        a second, unrelated CA
  other-client.crt / .key    CN=intruder, signed by the unrelated CA

Also a command line, for the Node and C++ tests: `tls_pki.py DIR` makes the
files in DIR and prints DIR.
"""
import base64
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile


def _run(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _key(name, cwd):
    # P-256: fast to make, and what most devices use.
    _run("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-out", name + ".key", cwd=cwd)


def _ca(name, cn, cwd):
    _key(name, cwd)
    _run("req", "-x509", "-new", "-key", name + ".key", "-out", name + ".crt",
         "-days", "2", "-subj", "/CN=" + cn, cwd=cwd)


def _leaf(name, cn, ca, cwd, days="2", key=None, server=True):
    key = key or name
    if not os.path.exists(os.path.join(cwd, key + ".key")):
        _key(key, cwd)
    _run("req", "-new", "-key", key + ".key", "-out", name + ".csr",
         "-subj", "/CN=" + cn, cwd=cwd)
    ext = os.path.join(cwd, name + ".ext")
    with open(ext, "w") as f:
        if server:
            f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n"
                    "extendedKeyUsage=serverAuth\n")
        else:
            f.write("extendedKeyUsage=clientAuth\n")
    # -days -1: notAfter before now (OpenSSL 3.0 accepts it): expired.
    _run("x509", "-req", "-in", name + ".csr", "-CA", ca + ".crt",
         "-CAkey", ca + ".key", "-CAcreateserial", "-out", name + ".crt",
         "-days", days, "-extfile", ext, cwd=cwd)


class Pki:
    def __init__(self, directory=None):
        self._tmp = None
        if directory is None:
            self._tmp = tempfile.mkdtemp(prefix="duplex-tls-")
            directory = self._tmp
        os.makedirs(directory, exist_ok=True)
        self.dir = directory
        d = directory
        _ca("ca", "duplex test CA", d)
        _leaf("server", "localhost", "ca", d)
        _leaf("server2", "localhost", "ca", d)
        _leaf("expired", "localhost", "ca", d, days="-1", key="server")
        _leaf("client", "device-7", "ca", d, server=False)
        _ca("other-ca", "unrelated CA", d)
        _leaf("other-client", "intruder", "other-ca", d, server=False)

    def path(self, name):
        return os.path.join(self.dir, name)

    def fingerprint(self, cert):
        """SHA-256 of the certificate (DER), hex, as `openssl x509 -fingerprint` shows it."""
        der = subprocess.run(["openssl", "x509", "-in", self.path(cert), "-outform", "DER"],
                             check=True, capture_output=True).stdout
        return hashlib.sha256(der).hexdigest()

    def spki_hash(self, cert):
        """Base64 SHA-256 of the certificate's SubjectPublicKeyInfo (Chromium's
        --ignore-certificate-errors-spki-list)."""
        pub = subprocess.run(["openssl", "x509", "-in", self.path(cert), "-pubkey", "-noout"],
                             check=True, capture_output=True).stdout
        der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=pub,
                             check=True, capture_output=True).stdout
        return base64.b64encode(hashlib.sha256(der).digest()).decode()

    def cleanup(self):
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None


if __name__ == "__main__":
    print(Pki(sys.argv[1]).dir)
