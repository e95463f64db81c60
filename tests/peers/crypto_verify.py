#!/usr/bin/python3
"""crypto_verify.py: verify one signature with python3-cryptography (an implementation independent of .NET).

Run with Debian's /usr/bin/python3 (python3-cryptography).

Usage:
  crypto_verify.py --public-key FILE --scheme SCHEME --signature HEX --data FILE

  FILE (key)  a public key as PEM or DER SubjectPublicKeyInfo, or a PEM/DER X.509
              certificate (its public key is used).
  SCHEME      ecdsa-sha256-der | ecdsa-sha384-der   ECDSA, DER SEQUENCE{r,s}
              ecdsa-sha256-raw | ecdsa-sha384-raw   ECDSA, r||s (notary's "ecdsa" method)
              rsa-pss-sha256                        RSA-PSS, MGF1-SHA256, salt = digest length
              rsa-pkcs1-sha256                      RSA PKCS#1 v1.5
              ed25519                               Ed25519 over the data itself
  --data      the signed bytes ("-" for standard input).

Output (stdout): {"ok": bool, "key_type": str, "error": str|null}
Exit codes: 0 the signature verifies; 1 it does not (or the key cannot be read); 2 usage error.
"""

import argparse
import json
import sys

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa, utils


def load_public_key(blob):
    loaders = [
        lambda b: serialization.load_pem_public_key(b),
        lambda b: serialization.load_der_public_key(b),
        lambda b: x509.load_pem_x509_certificate(b).public_key(),
        lambda b: x509.load_der_x509_certificate(b).public_key(),
    ]
    for load in loaders:
        try:
            return load(blob)
        except ValueError:
            continue
    raise ValueError("not a PEM/DER public key or certificate")


def verify(key, scheme, signature, data):
    if scheme.startswith("ecdsa-"):
        if not isinstance(key, ec.EllipticCurvePublicKey):
            raise TypeError("scheme needs an EC key")
        digest = hashes.SHA256() if "sha256" in scheme else hashes.SHA384()
        if scheme.endswith("-raw"):
            half = len(signature) // 2
            if len(signature) % 2 or half == 0:
                raise ValueError("raw r||s signature of odd or zero length")
            signature = utils.encode_dss_signature(int.from_bytes(signature[:half], "big"), int.from_bytes(signature[half:], "big"))
        key.verify(signature, data, ec.ECDSA(digest))
    elif scheme == "rsa-pss-sha256":
        if not isinstance(key, rsa.RSAPublicKey):
            raise TypeError("scheme needs an RSA key")
        key.verify(signature, data, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), hashes.SHA256())
    elif scheme == "rsa-pkcs1-sha256":
        if not isinstance(key, rsa.RSAPublicKey):
            raise TypeError("scheme needs an RSA key")
        key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
    elif scheme == "ed25519":
        if not isinstance(key, ed25519.Ed25519PublicKey):
            raise TypeError("scheme needs an Ed25519 key")
        key.verify(signature, data)
    else:
        raise LookupError(f"unknown scheme {scheme}")


def main(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument("--public-key", required=True)
    parser.add_argument("--scheme", required=True)
    parser.add_argument("--signature", required=True)
    parser.add_argument("--data", required=True)
    try:
        args = parser.parse_args(argv)
    except SystemExit:
        return 2

    result = {"ok": False, "key_type": None, "error": None}
    try:
        with open(args.public_key, "rb") as f:
            key = load_public_key(f.read())
        result["key_type"] = type(key).__name__.lstrip("_")
        data = sys.stdin.buffer.read() if args.data == "-" else open(args.data, "rb").read()
        verify(key, args.scheme, bytes.fromhex(args.signature), data)
        result["ok"] = True
    except LookupError as error:
        sys.stderr.write(f"{error}\n")
        return 2
    except InvalidSignature:
        result["error"] = "InvalidSignature"
    except Exception as error:  # pylint: disable=broad-except
        result["error"] = f"{type(error).__name__}: {error}"
    print(json.dumps(result))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
