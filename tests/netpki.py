"""Certificates for the network tests: a trustme CA written to disk (see :class:`Pki`).

Imported through :mod:`netutil`, which re-exports :class:`Pki` and :func:`subject_hash`.
"""

from __future__ import annotations

import hashlib
import ssl
from pathlib import Path
from typing import Dict, Optional, Tuple

import trustme
from cryptography import x509

__all__ = ["Pki", "subject_hash"]


def subject_hash(pem: bytes) -> str:
    """OpenSSL's ``X509_NAME_hash`` of a certificate's subject (``openssl x509 -hash``):
    SHA-1 of the canonical name (values trimmed, spaces collapsed, lower case, UTF8String,
    without the outer SEQUENCE), first four bytes little-endian."""
    name = x509.load_pem_x509_certificate(pem).subject
    canonical = x509.Name(
        [
            x509.RelativeDistinguishedName(
                [x509.NameAttribute(a.oid, " ".join(str(a.value).split()).lower()) for a in rdn]
            )
            for rdn in name.rdns
        ]
    ).public_bytes()
    skip = 2 + (canonical[1] & 0x7F if canonical[1] & 0x80 else 0)
    digest = hashlib.sha1(canonical[skip:]).digest()
    return f"{int.from_bytes(digest[:4], 'little'):08x}"


class Pki:
    """A trustme CA with its files under ``directory`` (created on demand, cached)."""

    def __init__(self, directory: Path, name: str) -> None:
        self.ca = trustme.CA(organization_unit_name=f"{name} CA")
        self.name = name
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.ca_file = directory / f"{name}-ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_file))
        self._leaves: Dict[Tuple[str, ...], trustme.LeafCert] = {}

    def ca_dir(self) -> Path:
        """A hashed CA directory (``<subject hash>.0``) holding only this CA."""
        folder = self.directory / f"{self.name}-ca.d"
        folder.mkdir(exist_ok=True)
        pem = self.ca.cert_pem.bytes()
        (folder / f"{subject_hash(pem)}.0").write_bytes(pem)
        return folder

    def leaf(self, *hosts: str) -> trustme.LeafCert:
        """A certificate for ``hosts`` (default ``127.0.0.1``), issued once."""
        key = hosts or ("127.0.0.1",)
        if key not in self._leaves:
            self._leaves[key] = self.ca.issue_cert(*key)
        return self._leaves[key]

    def client_files(self, common_name: str = "client") -> Tuple[Path, Path]:
        """``(cert, key)`` files of a client certificate with this ``CN``."""
        cert = self.ca.issue_cert(f"{common_name}.example", common_name=common_name)
        cert_file = self.directory / f"{self.name}-{common_name}.crt"
        key_file = self.directory / f"{self.name}-{common_name}.key"
        cert.cert_chain_pems[0].write_to_path(str(cert_file))
        cert.private_key_pem.write_to_path(str(key_file))
        return cert_file, key_file

    def server_context(
        self,
        *,
        max_version: ssl.TLSVersion = ssl.TLSVersion.MAXIMUM_SUPPORTED,
        ciphers: Optional[str] = None,
        client_ca: Optional[Pki] = None,
        require_client_cert: bool = False,
        host: str = "127.0.0.1",
    ) -> ssl.SSLContext:
        """A server context for ``host``; ``client_ca`` asks for client certificates."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.leaf(host).configure_cert(ctx)
        ctx.maximum_version = max_version
        if ciphers is not None:
            ctx.set_ciphers(ciphers)
        if client_ca is not None:
            client_ca.ca.configure_trust(ctx)
            ctx.verify_mode = ssl.CERT_REQUIRED if require_client_cert else ssl.CERT_OPTIONAL
        return ctx

    def client_context(self) -> ssl.SSLContext:
        """A client context trusting only this CA."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        self.ca.configure_trust(ctx)
        return ctx
