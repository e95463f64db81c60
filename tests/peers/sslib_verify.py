#!/usr/bin/python3
"""sslib_verify.py: check a TUF metadata file's signatures with securesystemslib.

Run with Debian's /usr/bin/python3 (packages python3-securesystemslib, python3-cryptography).
TUF specification dialect only (hex signatures over the canonical JSON of "signed").

Usage:
  sslib_verify.py --key KEY.json [--keyid KEYID] METADATA.json
      KEY.json holds one TUF key object {"keytype", "scheme", "keyval": {"public"}}.
      Its key id is KEYID when given, else the hex SHA-256 of the key's canonical
      JSON. Succeeds when METADATA carries a signature under that key id that
      verifies with that key.
  sslib_verify.py --root ROOT.json --role ROLE METADATA.json
      Takes the keys and threshold of ROLE (root, targets, snapshot, timestamp)
      from ROOT.json's "signed" and counts the distinct keys with a valid
      signature on METADATA. Succeeds when the count reaches the threshold.

Output (stdout, one JSON document):
  {"ok": bool, "valid": [keyids], "invalid": [keyids], "threshold": N, "error": str|null}
Exit codes: 0 verified; 1 not verified (or unreadable input); 2 usage error.
"""

import hashlib
import json
import sys

from securesystemslib.formats import encode_canonical
from securesystemslib.signer import Signature, SSlibKey


def _load(path):
    with open(path, "rb") as f:
        return json.loads(f.read().decode("utf-8"))


def _keyid(key_dict):
    return hashlib.sha256(encode_canonical(key_dict).encode("utf-8")).hexdigest()


def _verify(keys, threshold, metadata):
    """keys: keyid -> key dict. Returns (valid keyids, invalid keyids)."""
    payload = encode_canonical(metadata["signed"]).encode("utf-8")
    valid, invalid, seen_public = [], [], set()
    for sig in metadata.get("signatures", []):
        keyid = sig.get("keyid")
        if keyid not in keys:
            continue
        key_dict = dict(keys[keyid])
        key = SSlibKey.from_dict(keyid, key_dict)
        try:
            key.verify_signature(Signature(keyid, sig["sig"]), payload)
        except Exception:  # pylint: disable=broad-except
            invalid.append(keyid)
            continue
        # A key listed twice (or signing twice) counts once.
        public = (key.keytype, key.keyval.get("public"))
        if public in seen_public:
            continue
        seen_public.add(public)
        valid.append(keyid)
    return valid, invalid, len(valid) >= threshold


def main(argv):
    args = {}
    rest = []
    i = 0
    while i < len(argv):
        if argv[i] in ("--key", "--keyid", "--root", "--role"):
            if i + 1 >= len(argv):
                sys.stderr.write(f"sslib_verify.py: {argv[i]} needs a value\n")
                return 2
            args[argv[i]] = argv[i + 1]
            i += 2
        else:
            rest.append(argv[i])
            i += 1
    if len(rest) != 1 or (("--key" in args) == ("--root" in args)) or (("--root" in args) != ("--role" in args)):
        sys.stderr.write(__doc__)
        return 2

    result = {"ok": False, "valid": [], "invalid": [], "threshold": 1, "error": None}
    try:
        metadata = _load(rest[0])
        if "--key" in args:
            key_dict = _load(args["--key"])
            keyid = args.get("--keyid") or _keyid(key_dict)
            keys, threshold = {keyid: key_dict}, 1
        else:
            root = _load(args["--root"])["signed"]
            role = root["roles"][args["--role"]]
            keys = {k: root["keys"][k] for k in role["keyids"] if k in root["keys"]}
            threshold = role["threshold"]
        valid, invalid, ok = _verify(keys, threshold, metadata)
        result.update(ok=ok, valid=valid, invalid=invalid, threshold=threshold)
        if not ok:
            result["error"] = f"{len(valid)} valid signature(s), threshold {threshold}"
    except Exception as error:  # pylint: disable=broad-except
        result["error"] = f"{type(error).__name__}: {error}"
    sys.stdout.write(json.dumps(result) + "\n")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
