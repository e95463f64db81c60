#!/usr/bin/python3
"""Verifies one signature with python3-cryptography, independently of .NET and of the token.

Usage: verify_signature.py ALGORITHM SPKI_HEX MESSAGE_HEX SIGNATURE_HEX
ALGORITHM is ecdsa-sha256, ecdsa-sha384, ed25519 or rsa-pss-sha256. ECDSA signatures are raw r||s (IEEE P1363).
Exit status 0: valid; 1: invalid; 2: usage or key error.
"""
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa, utils


def main(argv):
    if len(argv) != 5:
        print(__doc__, file=sys.stderr)
        return 2
    algorithm, spki, message, signature = argv[1], bytes.fromhex(argv[2]), bytes.fromhex(argv[3]), bytes.fromhex(argv[4])
    key = serialization.load_der_public_key(spki)
    try:
        if algorithm in ("ecdsa-sha256", "ecdsa-sha384"):
            if not isinstance(key, ec.EllipticCurvePublicKey):
                print("not an EC key", file=sys.stderr)
                return 2
            half = len(signature) // 2
            der = utils.encode_dss_signature(int.from_bytes(signature[:half], "big"), int.from_bytes(signature[half:], "big"))
            digest = hashes.SHA256() if algorithm == "ecdsa-sha256" else hashes.SHA384()
            key.verify(der, message, ec.ECDSA(digest))
        elif algorithm == "ed25519":
            if not isinstance(key, ed25519.Ed25519PublicKey):
                print("not an Ed25519 key", file=sys.stderr)
                return 2
            key.verify(signature, message)
        elif algorithm == "rsa-pss-sha256":
            if not isinstance(key, rsa.RSAPublicKey):
                print("not an RSA key", file=sys.stderr)
                return 2
            key.verify(signature, message, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), hashes.SHA256())
        else:
            print("unknown algorithm " + algorithm, file=sys.stderr)
            return 2
    except InvalidSignature:
        print("invalid signature")
        return 1
    print("valid")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
