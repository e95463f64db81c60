"""Verifies a signature with python3-cryptography: an independent check of what the backend produced.

Usage: verify_signature.py ALG SPKI_HEX MESSAGE_HEX SIGNATURE_HEX
ALG: ecdsa-sha256 | ecdsa-sha384 (DER signature) | rsa-pss-sha256 (salt = digest length) | ed25519
Exit 0 and "valid" when the signature verifies, 1 and "invalid" otherwise.
"""
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.serialization import load_der_public_key

alg, spki, message, signature = sys.argv[1], bytes.fromhex(sys.argv[2]), bytes.fromhex(sys.argv[3]), bytes.fromhex(sys.argv[4])
key = load_der_public_key(spki)
try:
    if alg == "ecdsa-sha256":
        key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
    elif alg == "ecdsa-sha384":
        key.verify(signature, message, ec.ECDSA(hashes.SHA384()))
    elif alg == "rsa-pss-sha256":
        key.verify(signature, message, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), hashes.SHA256())
    elif alg == "ed25519":
        key.verify(signature, message)
    else:
        raise SystemExit("unknown algorithm " + alg)
except InvalidSignature:
    print("invalid")
    sys.exit(1)
print("valid")
