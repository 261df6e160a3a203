#!/usr/bin/python3
"""Writes jwt_vectors.h: JSON Web Tokens made by an independent
implementation (PyJWT, Debian's python3-jwt, over python3-cryptography) for
tests/auth/jwt_test.cc. Run once and commit its output:

    /usr/bin/python3 tests/auth/make_jwt_vectors.py > tests/auth/jwt_vectors.h

Fresh RSA and P-256 keys each run (only the public halves are written out).
Tokens PyJWT refuses to make (alg none, HS256 keyed with a PEM, duplicate
claim names, a forged signature) are put together here with the standard
library's base64/hmac/json, as an attacker would.
"""

import base64
import hashlib
import hmac
import json

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

NOW = 1_800_000_000  # the tests verify "now" at this Unix time
SECRET = "duplex-test-secret-0123456789abcdef"  # 35 bytes (>= 32, RFC 7518 3.2)
AUD = "duplex"

rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
rsa_pub = rsa_key.public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
ec_key = ec.generate_private_key(ec.SECP256R1())
ec_pub = ec_key.public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
ec384_key = ec.generate_private_key(ec.SECP384R1())
ec384_pub = ec384_key.public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
rsa1024_pub = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims(**extra):
    c = {"sub": "alice", "aud": AUD, "iat": NOW - 60, "nbf": NOW - 60, "exp": NOW + 3600}
    c.update(extra)
    return {k: v for k, v in c.items() if v is not None}


def hs(payload, headers=None):
    return jwt.encode(payload, SECRET, algorithm="HS256", headers=headers)


def rs(payload):
    return jwt.encode(payload, rsa_key, algorithm="RS256")


def es(payload):
    return jwt.encode(payload, ec_key, algorithm="ES256")


def handmade(header, payload_text, key):
    """A token signed HS256 by hand over exactly these bytes."""
    signing_input = b64url(json.dumps(header).encode()) + "." + b64url(payload_text.encode())
    sig = hmac.new(key.encode(), signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64url(sig)


vectors = {}
vectors["kHs256Ok"] = hs(claims())
vectors["kRs256Ok"] = rs(claims())
vectors["kEs256Ok"] = es(claims())
vectors["kEs256Es384Key"] = jwt.encode(claims(), ec384_key, algorithm="ES384")
vectors["kHs256Expired"] = hs(claims(exp=NOW - 31))        # past the 30 s leeway
vectors["kHs256ExpiredInLeeway"] = hs(claims(exp=NOW - 29))
vectors["kHs256NotYetValid"] = hs(claims(nbf=NOW + 31))
vectors["kHs256NotYetInLeeway"] = hs(claims(nbf=NOW + 29))
vectors["kHs256FractionalExp"] = hs(claims(exp=NOW + 0.5))
vectors["kHs256NoExp"] = hs(claims(exp=None))
vectors["kHs256WrongAud"] = hs(claims(aud="other"))
vectors["kHs256AudArray"] = hs(claims(aud=["other", AUD]))
vectors["kHs256AudArrayWrong"] = hs(claims(aud=["other", "third"]))
vectors["kHs256NoAud"] = hs(claims(aud=None))
vectors["kHs256SubNumber"] = hs(claims(sub=42))
vectors["kHs256NoSub"] = hs(claims(sub=None))
vectors["kHs256PreferredUsername"] = hs(claims(preferred_username="bob"))
vectors["kHs256ExpString"] = hs(claims(exp=str(NOW + 3600)))
vectors["kHs256Crit"] = hs(claims(), headers={"crit": ["exp"]})
vectors["kHs256Oversized"] = hs(claims(pad="x" * 9000))
vectors["kHs256WrongSecret"] = jwt.encode(claims(), SECRET + "x", algorithm="HS256")
# alg none (RFC 7518 3.6): empty signature.
vectors["kAlgNone"] = (b64url(json.dumps({"alg": "none", "typ": "JWT"}).encode()) + "." +
                       b64url(json.dumps(claims()).encode()) + ".")
vectors["kAlgNoneWithSig"] = vectors["kAlgNone"] + "c2ln"
# Algorithm confusion: HS256 keyed with the RSA public key's PEM.
vectors["kAlgSwapHs256WithRsaPem"] = handmade({"alg": "HS256", "typ": "JWT"}, json.dumps(claims()), rsa_pub)
# A signed token whose payload is then replaced (sub: admin).
h, p, s = vectors["kRs256Ok"].split(".")
vectors["kRs256Tampered"] = h + "." + b64url(json.dumps(claims(sub="admin")).encode()) + "." + s
h, p, s = vectors["kEs256Ok"].split(".")
vectors["kEs256Tampered"] = h + "." + b64url(json.dumps(claims(sub="admin")).encode()) + "." + s
# The ES256 signature re-encoded as DER (what OpenSSL makes): not JWS.
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature  # noqa: E402
raw = base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
vectors["kEs256DerSignature"] = h + "." + p + "." + b64url(der)
# Duplicate member names: RapidJSON would read the first, Python the last.
vectors["kHs256DuplicateSub"] = handmade(
    {"alg": "HS256", "typ": "JWT"},
    '{"sub": "alice", "aud": "duplex", "exp": %d, "sub": "admin"}' % (NOW + 3600), SECRET)
vectors["kHs256PayloadNotJson"] = handmade({"alg": "HS256"}, "not json", SECRET)
vectors["kHs256PayloadArray"] = handmade({"alg": "HS256"}, '["sub", "alice"]', SECRET)
vectors["kHs256DeepPayload"] = handmade({"alg": "HS256"}, '{"sub": "alice", "x": ' + "[" * 50 + "]" * 50 + "}",
                                        SECRET)
vectors["kHs256ControlInSub"] = hs(claims(sub="ali\nce"))

print("// Generated by tests/auth/make_jwt_vectors.py (PyJWT %s); do not edit." % jwt.__version__)
print("// Verify at kNow; HS256 secret kSecret, audience \"%s\"." % AUD)
print("#pragma once\n")
print("namespace jwt_vectors {\n")
print("constexpr long long kNow = %d;" % NOW)
print('constexpr const char* kSecret = "%s";' % SECRET)
for name, pem in [("kRsaPublicPem", rsa_pub), ("kEcPublicPem", ec_pub), ("kEcP384PublicPem", ec384_pub),
                  ("kRsa1024PublicPem", rsa1024_pub)]:
    print("constexpr const char* %s = R\"(%s)\";" % (name, pem))
for name, token in vectors.items():
    print('constexpr const char* %s =\n    "%s";' % (name, token))
print("\n}  // namespace jwt_vectors")
