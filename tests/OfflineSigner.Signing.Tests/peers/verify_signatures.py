#!/usr/bin/python3
"""Independent checks of what OfflineSigner makes, with Debian's python3-cryptography and python3-securesystemslib.

Reads one JSON request on stdin and writes one JSON answer on stdout.
Request: {"cases": [{"dialect": "spec"|"notary", "keyid": str, "key": {key object}, "method": str|null,
                     "message_b64": str, "sig": hex (spec) or base64 (notary)}],
          "certificates": [{"pem": str}], "private_keys": [{"pem": str}]}
Answer:  {"cases": [{"cryptography": bool, "securesystemslib": bool|null, "keyid": str, "error": str|null}],
          "certificates": [{"self_signature": bool, "subject_cn": str, "code_signing": bool, "ca": bool, "error": str|null}],
          "private_keys": [{"spki_b64": str, "error": str|null}]}
"""
import base64
import hashlib
import json
import sys

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa, utils
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from securesystemslib.formats import encode_canonical


def spec_key(key):
    """The public key of a TUF specification key object, read as python-tuf would."""
    public = key["keyval"]["public"]
    if key["keytype"] == "ed25519":
        return ed25519.Ed25519PublicKey.from_public_bytes(bytes.fromhex(public))
    return serialization.load_pem_public_key(public.encode())


def notary_key(key):
    public = base64.b64decode(key["keyval"]["public"])
    keytype = key["keytype"]
    if keytype == "ed25519":
        return ed25519.Ed25519PublicKey.from_public_bytes(public)
    if keytype.endswith("-x509"):
        return x509.load_pem_x509_certificates(public)[0].public_key()
    return serialization.load_der_public_key(public)


def verify_with_cryptography(case):
    key_object = case["key"]
    message = base64.b64decode(case["message_b64"])
    try:
        if case["dialect"] == "spec":
            sig = bytes.fromhex(case["sig"])
            key = spec_key(key_object)
            scheme = key_object["scheme"]
            if scheme == "ed25519":
                key.verify(sig, message)
            elif scheme in ("ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384"):
                wanted = "secp256r1" if scheme.endswith("256") else "secp384r1"
                if key.curve.name != wanted:
                    return False
                digest = hashes.SHA256() if scheme.endswith("256") else hashes.SHA384()
                key.verify(sig, message, ec.ECDSA(digest))
            elif scheme == "rsassa-pss-sha256":
                key.verify(sig, message, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), hashes.SHA256())
            else:
                raise ValueError("scheme " + scheme)
        else:
            sig = base64.b64decode(case["sig"])
            key = notary_key(key_object)
            method = case["method"]
            if method == "ecdsa":
                size = (key.curve.key_size + 7) // 8
                if len(sig) != 2 * size:
                    return False
                der = utils.encode_dss_signature(int.from_bytes(sig[:size], "big"), int.from_bytes(sig[size:], "big"))
                key.verify(der, message, ec.ECDSA(hashes.SHA256()))
            elif method == "rsapss":
                key.verify(sig, message, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), hashes.SHA256())
            elif method == "eddsa":
                key.verify(sig, message)
            else:
                raise ValueError("method " + method)
        return True
    except InvalidSignature:
        return False


def verify_with_securesystemslib(case):
    if case["dialect"] != "spec":
        return None
    from securesystemslib.exceptions import UnverifiedSignatureError
    from securesystemslib.signer import Signature, SSlibKey

    key = SSlibKey.from_dict(case["keyid"], dict(case["key"]))
    try:
        key.verify_signature(Signature(case["keyid"], case["sig"]), base64.b64decode(case["message_b64"]))
        return True
    except UnverifiedSignatureError:
        return False


def check_case(case):
    answer = {"keyid": hashlib.sha256(encode_canonical(case["key"]).encode()).hexdigest(), "error": None}
    try:
        answer["cryptography"] = verify_with_cryptography(case)
        answer["securesystemslib"] = verify_with_securesystemslib(case)
    except Exception as e:  # reported to the test, which fails on it
        answer["error"] = f"{type(e).__name__}: {e}"
    return answer


def check_certificate(item):
    try:
        cert = x509.load_pem_x509_certificate(item["pem"].encode())
        key = cert.public_key()
        try:
            if isinstance(key, ec.EllipticCurvePublicKey):
                key.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(cert.signature_hash_algorithm))
            elif isinstance(key, rsa.RSAPublicKey):
                key.verify(cert.signature, cert.tbs_certificate_bytes,
                           padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), hashes.SHA256())
            else:
                raise ValueError("unexpected key type")
            good = True
        except InvalidSignature:
            good = False
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        basic = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
        return {
            "self_signature": good,
            "subject_cn": cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value,
            "code_signing": ExtendedKeyUsageOID.CODE_SIGNING in eku,
            "ca": basic.ca,
            "error": None,
        }
    except Exception as e:
        return {"error": f"{type(e).__name__}: {e}"}


def read_private_key(item):
    try:
        key = serialization.load_pem_private_key(item["pem"].encode(), password=None)
        spki = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        return {"spki_b64": base64.b64encode(spki).decode(), "error": None}
    except Exception as e:
        return {"error": f"{type(e).__name__}: {e}"}


def main():
    request = json.load(sys.stdin)
    json.dump({
        "cases": [check_case(c) for c in request.get("cases", [])],
        "certificates": [check_certificate(c) for c in request.get("certificates", [])],
        "private_keys": [read_private_key(k) for k in request.get("private_keys", [])],
    }, sys.stdout)


if __name__ == "__main__":
    main()
