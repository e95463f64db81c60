"""Describes an X.509 certificate with python3-cryptography, as JSON: an independent reading of what a card returned.

Usage: certificate_info.py CERT.pem|CERT.der
Prints {"subject", "issuer", "serial", "spki_hex", "not_before", "not_after", "extensions": {oid: hex of extnValue}}.
"""
import json
import sys

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

data = open(sys.argv[1], "rb").read()
cert = x509.load_pem_x509_certificate(data) if data.startswith(b"-----") else x509.load_der_x509_certificate(data)
extensions = {}
for ext in cert.extensions:
    value = ext.value
    raw = value.value if isinstance(value, x509.UnrecognizedExtension) else value.public_bytes()
    extensions[ext.oid.dotted_string] = raw.hex()
print(json.dumps({
    "subject": cert.subject.rfc4514_string(),
    "issuer": cert.issuer.rfc4514_string(),
    "serial": cert.serial_number,
    "spki_hex": cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo).hex(),
    "not_before": cert.not_valid_before.isoformat(),
    "not_after": cert.not_valid_after.isoformat(),
    "extensions": extensions,
}))
