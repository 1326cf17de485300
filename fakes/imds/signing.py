"""Signed instance identity documents, with a TEST key the fake makes when it starts.

EC2 signs the identity document three ways: ``signature`` (base64 RSA-SHA256 over the
document), ``pkcs7`` and ``rsa2048`` (PKCS#7 SignedData carrying the document, base64 DER
without PEM armour, as EC2 serves them; a verifier adds ``-----BEGIN PKCS7-----`` lines and
passes AWS's regional certificate). This fake signs all three with one self-signed RSA-2048
test key generated at start-up and publishes its certificate at
``GET /__bootstorm/signing-certificate``. Verify against that certificate; AWS's published
certificates will never verify these documents (and must not: nothing here is AWS's).
"""

from __future__ import annotations

import base64
import datetime as dt
import textwrap

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID

__all__ = ["TestSigner"]


class TestSigner:
    """One RSA-2048 key and its self-signed certificate, for this server's lifetime."""

    __test__ = False  # not a pytest test class, despite the name

    def __init__(self) -> None:
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([
            x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "bootstorm fake IMDS (TEST KEY, not AWS)"),
            x509.NameAttribute(NameOID.COMMON_NAME, "bootstorm-imds-test-signer"),
        ])
        now = dt.datetime.now(dt.timezone.utc)
        self.certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=365))
            .sign(self._key, hashes.SHA256())
        )
        self.certificate_pem = self.certificate.public_bytes(serialization.Encoding.PEM).decode()

    def signature(self, document: bytes) -> str:
        """``dynamic/instance-identity/signature``: base64 RSA-SHA256 (PKCS#1 v1.5)."""
        raw = self._key.sign(document, padding.PKCS1v15(), hashes.SHA256())
        return _wrapped(raw)

    def pkcs7(self, document: bytes) -> str:
        """``pkcs7`` / ``rsa2048``: SignedData with the document inside and no certificates,
        as EC2's (the verifier supplies the certificate)."""
        der = (
            pkcs7.PKCS7SignatureBuilder()
            .set_data(document)
            .add_signer(self.certificate, self._key, hashes.SHA256())
            .sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.NoCerts, pkcs7.PKCS7Options.Binary])
        )
        return _wrapped(der)


def _wrapped(raw: bytes) -> str:
    # EC2 wraps its base64 at 64 characters, like PEM bodies.
    return "\n".join(textwrap.wrap(base64.b64encode(raw).decode(), 64))
