"""A self-signed TLS certificate made at start-up.

simple-salesforce always builds ``https://`` URLs, so the sandbox must speak TLS. The
certificate is valid for ``127.0.0.1``, ``::1`` and ``localhost``, and for any further
names it is given (in Docker Compose, the service name other containers reach it by);
clients trust it by pointing ``requests.Session.verify`` at
:attr:`SelfSignedCertificate.cert_path`, which keeps verification on (turning it off would
hide real TLS mistakes and raises warnings).
"""

from __future__ import annotations

import ipaddress
import shutil
import tempfile
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALIDITY = timedelta(days=7)


class SelfSignedCertificate:
    """Key and certificate written to a private temporary directory until :meth:`cleanup`."""

    def __init__(self, common_name: str = "localhost", *, hosts: Iterable[str] = ()) -> None:
        """``hosts``: further DNS names or IP addresses the certificate is valid for."""
        # EC keys are made in milliseconds where RSA takes noticeable time per sandbox.
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        now = datetime.now(UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + VALIDITY)
            .add_extension(
                x509.SubjectAlternativeName(
                    _subject_names(["localhost", "127.0.0.1", "::1", *hosts])
                ),
                critical=False,
            )
            # A CA:TRUE self-signed leaf lets OpenSSL use it as its own trust anchor.
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(key, hashes.SHA256())
        )
        self._directory = Path(tempfile.mkdtemp(prefix="sf-sandbox-tls-"))
        self.cert_path = str(self._directory / "cert.pem")
        self.key_path = str(self._directory / "key.pem")
        Path(self.cert_path).write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        key_file = Path(self.key_path)
        key_file.touch(mode=0o600)
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )

    def cleanup(self) -> None:
        shutil.rmtree(self._directory, ignore_errors=True)


def _subject_names(hosts: Iterable[str]) -> list[x509.GeneralName]:
    """Each host once, as an IP address entry if it is one, else as a DNS name."""
    names: list[x509.GeneralName] = []
    for host in dict.fromkeys(hosts):
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names
