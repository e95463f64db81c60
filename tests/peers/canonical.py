#!/usr/bin/python3
"""canonical.py: the reference canonical JSON (securesystemslib encode_canonical) for tests.

Run with Debian's /usr/bin/python3 (package python3-securesystemslib).

Usage:
  canonical.py [--signed] [FILE | -]
      Parse FILE (default: standard input) with Python's json module and write
      securesystemslib.formats.encode_canonical(document) to stdout as raw UTF-8
      bytes, with no trailing newline. --signed encodes only the document's
      "signed" member: the bytes a TUF signature covers.
  canonical.py --sha256 [--signed] FILE...
      One line per FILE, in order: the hex SHA-256 of its canonical bytes, or
      "!<ErrorClass>: <message>" when that file cannot be encoded. For comparing
      many files with one process.

Exit codes: 0 every document encoded; 1 at least one document could not be
parsed or encoded (floats, NaN, lone surrogates, ...: the error goes to stderr,
or on its line with --sha256); 2 usage error.

Python's json module keeps the last of duplicate keys; this script refuses
duplicates instead, so that a test never compares against a silently merged
document.
"""

import hashlib
import json
import sys

from securesystemslib.formats import encode_canonical


class DuplicateKeyError(ValueError):
    """A JSON object names the same key twice."""


def _no_duplicates(pairs):
    obj = {}
    for key, value in pairs:
        if key in obj:
            raise DuplicateKeyError(f"duplicate key {key!r}")
        obj[key] = value
    return obj


def canonical_bytes(text, signed_only):
    document = json.loads(text, object_pairs_hook=_no_duplicates)
    if signed_only:
        if not isinstance(document, dict) or "signed" not in document:
            raise KeyError("document has no 'signed' member")
        document = document["signed"]
    # encode_canonical returns str; strict UTF-8 refuses lone surrogates, as it should.
    return encode_canonical(document).encode("utf-8")


def _read(path):
    if path == "-":
        return sys.stdin.buffer.read().decode("utf-8")
    with open(path, "rb") as f:
        return f.read().decode("utf-8")


def _describe(error):
    return f"{type(error).__name__}: {error}"


def main(argv):
    signed_only = "--signed" in argv
    hashes = "--sha256" in argv
    paths = [a for a in argv if a not in ("--signed", "--sha256")]
    unknown = [a for a in paths if a.startswith("--")]
    if unknown:
        sys.stderr.write(f"canonical.py: unknown option {unknown[0]}\n")
        return 2

    if hashes:
        if not paths:
            sys.stderr.write("canonical.py: --sha256 needs at least one FILE\n")
            return 2
        failed = False
        out = []
        for path in paths:
            try:
                out.append(hashlib.sha256(canonical_bytes(_read(path), signed_only)).hexdigest())
            except Exception as error:  # pylint: disable=broad-except
                failed = True
                out.append("!" + _describe(error).replace("\n", " "))
        sys.stdout.write("\n".join(out) + "\n")
        return 1 if failed else 0

    if len(paths) > 1:
        sys.stderr.write("canonical.py: one FILE at a time (use --sha256 for many)\n")
        return 2
    try:
        data = canonical_bytes(_read(paths[0] if paths else "-"), signed_only)
    except Exception as error:  # pylint: disable=broad-except
        sys.stderr.write(_describe(error) + "\n")
        return 1
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
