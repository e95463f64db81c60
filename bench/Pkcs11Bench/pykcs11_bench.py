#!/usr/bin/python3
"""ECDSA P-256 signing rate through python3-pykcs11 on a SoftHSM token, for the side-by-side benchmark.

Usage: pykcs11_bench.py MODULE TOKEN_LABEL PIN_FILE KEY_ID_HEX SECONDS
Prints one JSON object: signatures per second for each workload.
  sign:        SHA-256 of the message on the host, then CKM_ECDSA (the work our binding does without verification)
  sign+verify: the same, then verification with python3-cryptography (the work our IKeySigner does)
  raw:         CKM_ECDSA over a fixed digest, nothing else
"""
import hashlib
import json
import sys
import time

import PyKCS11
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, utils


def rate(seconds, fn):
    # Warm up, then count whole calls in the time box.
    for _ in range(50):
        fn()
    n = 0
    start = time.perf_counter()
    end = start + seconds
    while True:
        for _ in range(100):
            fn()
        n += 100
        now = time.perf_counter()
        if now >= end:
            return n / (now - start)


def main(argv):
    module, label, pin_file, key_id, seconds = argv[1], argv[2], argv[3], bytes.fromhex(argv[4]), float(argv[5])
    with open(pin_file, "rb") as f:
        pin = f.read().splitlines()[0].decode()
    lib = PyKCS11.PyKCS11Lib()
    lib.load(module)
    slot = next(s for s in lib.getSlotList(tokenPresent=True) if lib.getTokenInfo(s).label.strip() == label)
    session = lib.openSession(slot, PyKCS11.CKF_SERIAL_SESSION | PyKCS11.CKF_RW_SESSION)
    session.login(pin)
    pin = None
    key = session.findObjects([(PyKCS11.CKA_CLASS, PyKCS11.CKO_PRIVATE_KEY), (PyKCS11.CKA_ID, key_id)])[0]
    pub = session.findObjects([(PyKCS11.CKA_CLASS, PyKCS11.CKO_PUBLIC_KEY), (PyKCS11.CKA_ID, key_id)])[0]
    point = bytes(session.getAttributeValue(pub, [PyKCS11.CKA_EC_POINT])[0])
    if len(point) == 67:
        point = point[2:]
    public_key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    mechanism = PyKCS11.Mechanism(PyKCS11.CKM_ECDSA, None)
    message = b'{"signed":{"_type":"timestamp","version":1}}'
    fixed = hashlib.sha256(message).digest()
    prehashed = ec.ECDSA(utils.Prehashed(hashes.SHA256()))

    def sign():
        return session.sign(key, hashlib.sha256(message).digest(), mechanism)

    def sign_verify():
        digest = hashlib.sha256(message).digest()
        sig = bytes(session.sign(key, digest, mechanism))
        der = utils.encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
        public_key.verify(der, digest, prehashed)

    def raw():
        return session.sign(key, fixed, mechanism)

    result = {"sign": rate(seconds, sign), "sign+verify": rate(seconds, sign_verify), "raw": rate(seconds, raw)}
    session.logout()
    session.closeSession()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
