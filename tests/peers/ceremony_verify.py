#!/usr/bin/python3
"""ceremony_verify.py: check a ceremony transcript and witness statements with code nobody on this project wrote:
hashlib for the chain, securesystemslib's encode_canonical for the canonical form and the signed statements,
python3-cryptography for every signature (seals, metadata signatures, witness statements).

Run with Debian's /usr/bin/python3 (python3-securesystemslib, python3-cryptography).

Usage:
  ceremony_verify.py TRANSCRIPT [WITNESS_STATEMENT...]

Output (stdout), one JSON document:
  {"transcript_sha256": hex, "lines": n, "chain_ok": bool, "chain_error": str|null,
   "seals": [{"holder", "ok", "error"}], "signatures": [{"holder", "item", "ok", "error"}],
   "witnesses": [{"file", "witness", "ok", "error"}]}
Exit codes: 0 everything verifies; 1 something does not; 2 usage error.
"""

import base64
import hashlib
import json
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding
from securesystemslib.formats import encode_canonical

GENESIS = "0" * 64


def canonical(obj):
    return encode_canonical(obj).encode("utf-8")


def verify_scheme(key, scheme, signature, data):
    """Raises InvalidSignature (or another error) unless signature is valid."""
    if scheme == "ed25519":
        key.verify(signature, data)
    elif scheme in ("ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384"):
        digest = hashes.SHA256() if scheme.endswith("256") else hashes.SHA384()
        key.verify(signature, data, ec.ECDSA(digest))
    elif scheme.startswith("rsassa-pss-"):
        digest = {"sha256": hashes.SHA256(), "sha384": hashes.SHA384(), "sha512": hashes.SHA512()}[scheme.rsplit("-", 1)[1]]
        key.verify(signature, data, padding.PSS(mgf=padding.MGF1(digest), salt_length=digest.digest_size), digest)
    else:
        raise LookupError("unsupported scheme " + scheme)


def key_from_object(obj):
    """A securesystemslib/TUF key object: ed25519 hex, or PEM for ecdsa and rsa."""
    public = obj["keyval"]["public"]
    if obj["keytype"] == "ed25519":
        return ed25519.Ed25519PublicKey.from_public_bytes(bytes.fromhex(public)), obj["scheme"]
    return serialization.load_pem_public_key(public.encode("ascii")), obj["scheme"]


def main(argv):
    if len(argv) < 1:
        sys.stderr.write(__doc__)
        return 2
    data = open(argv[0], "rb").read()
    result = {"transcript_sha256": hashlib.sha256(data).hexdigest(), "lines": 0, "chain_ok": True, "chain_error": None,
              "seals": [], "signatures": [], "witnesses": []}
    if not data.endswith(b"\n"):
        result["chain_ok"] = False
        result["chain_error"] = "the transcript does not end with a complete line"
    lines = data.split(b"\n")[:-1] if data.endswith(b"\n") else data.split(b"\n")
    prev = GENESIS
    script = None
    documents = {}
    for number, line in enumerate(lines, start=1):
        result["lines"] = number
        try:
            entry = json.loads(line.decode("utf-8"))
        except ValueError as error:
            result["chain_ok"], result["chain_error"] = False, f"line {number}: not JSON: {error}"
            break
        if canonical(entry) != line:
            result["chain_ok"], result["chain_error"] = False, f"line {number}: not canonical JSON"
            break
        if entry.get("seq") != number or entry.get("prev") != prev:
            result["chain_ok"], result["chain_error"] = False, f"line {number}: seq or prev does not follow line {number - 1}"
            break
        event = entry.get("event")
        if event == "ceremony_started":
            script = json.loads(base64.b64decode(entry["script"]))
        elif event == "metadata_built":
            documents[entry["step"]] = json.loads(base64.b64decode(entry["document"]))
        elif event == "signature_added":
            record = {"holder": entry["holder"], "item": entry["item"], "ok": False, "error": None}
            try:
                key_object = None
                for doc in documents.values():
                    signed = doc["signed"]
                    keys = signed.get("keys") or (signed.get("delegations") or {}).get("keys") or {}
                    if entry["key_id"] in keys:
                        key_object = keys[entry["key_id"]]
                key, scheme = key_from_object(key_object)
                verify_scheme(key, scheme, bytes.fromhex(entry["sig"]), canonical(documents[entry["item"]]["signed"]))
                record["ok"] = True
            except Exception as error:  # pylint: disable=broad-except
                record["error"] = f"{type(error).__name__}: {error}"
            result["signatures"].append(record)
        elif event == "seal_signature":
            record = {"holder": entry["holder"], "ok": False, "error": None}
            try:
                if entry["covers_seq"] != number - 1 or entry["covers_sha256"] != prev:
                    raise ValueError("the seal does not cover the line before it")
                statement = canonical({"_type": "ceremony-seal", "ceremony_id": script["ceremony_id"],
                                       "covers_seq": entry["covers_seq"], "covers_sha256": entry["covers_sha256"],
                                       "sealed_at": entry["time"]})
                key = serialization.load_der_public_key(base64.b64decode(entry["public_key"]))
                verify_scheme(key, entry["scheme"], bytes.fromhex(entry["sig"]), statement)
                record["ok"] = True
            except Exception as error:  # pylint: disable=broad-except
                record["error"] = f"{type(error).__name__}: {error}"
            result["seals"].append(record)
        prev = hashlib.sha256(line).hexdigest()

    witnesses = {w["id"]: w for w in (script or {}).get("people", {}).get("witnesses", [])}
    for path in argv[1:]:
        record = {"file": path, "witness": None, "ok": False, "error": None}
        try:
            envelope = json.load(open(path, "rb"))
            signed = envelope["signed"]
            record["witness"] = signed["witness"]
            if signed["transcript_sha256"] != result["transcript_sha256"]:
                raise ValueError("the statement is over another transcript")
            key, scheme = key_from_object(witnesses[signed["witness"]]["public_key"])
            verify_scheme(key, scheme, bytes.fromhex(envelope["signatures"][0]["sig"]), canonical(signed))
            record["ok"] = True
        except Exception as error:  # pylint: disable=broad-except
            record["error"] = f"{type(error).__name__}: {error}"
        result["witnesses"].append(record)

    print(json.dumps(result))
    ok = result["chain_ok"] and all(r["ok"] for r in result["seals"] + result["signatures"] + result["witnesses"])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
