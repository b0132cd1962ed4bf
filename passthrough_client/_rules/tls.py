"""TLS settings -> ``ssl.SSLContext`` objects (pure: no sockets, no requests sessions).

Every context is built completely here, once per client, and never mutated afterwards;
the adapter only hands it to urllib3. Rules (DESIGN.md §3, NOTES.md "TLS through
requests"):

- Contexts are built as ``urllib3.util.ssl_.create_urllib3_context`` builds them
  (TLS 1.2 minimum, no compression, no session tickets, post-handshake auth, no
  common-name fallback, strict X.509 on 3.13+), with the minimum version and ciphers set
  at creation (urllib3 ignores its pool keywords once a context is given), but without
  its read of ``os.environ["SSLKEYLOGFILE"]``: key logging follows the ``keylog``
  argument (the client passes ``SSLKEYLOGFILE`` from its own ``environ``). No trust store
  is loaded by default, so trust is loaded here, explicitly.
- ``verify=True`` trusts exactly requests' default bundle (certifi's). OpenSSL's default
  paths are never loaded, so the process's ``SSL_CERT_FILE``/``SSL_CERT_DIR`` cannot
  leak in. ``verify=<path>`` trusts exactly that CA file or hashed directory.
- ALPN offers ``http/1.1`` only: that is what we speak.
- ``ciphers`` restrict TLS 1.2 suites only (OpenSSL's cipher list); TLS 1.3 suites are
  not affected by it, as with requests and curl.
- Errors while building raise ``ConfigError`` naming the setting and the path, never
  the content of a file. Every problem found is reported at once.
"""

from __future__ import annotations

import os
import ssl
import sys
from pathlib import Path
from typing import NoReturn, Optional, Sequence, Union

from ..exceptions import ConfigError

__all__ = [
    "build_proxy_ssl_context",
    "build_ssl_context",
    "cipher_error",
    "default_ca_bundle",
    "describe_trust",
]

_TLS = "network.tls"
_PROXY_CACERT = "network.proxy.cacert"
_ALPN = ["http/1.1"]
_VERSIONS = {"TLSv1.2": ssl.TLSVersion.TLSv1_2, "TLSv1.3": ssl.TLSVersion.TLSv1_3}


class _EncryptedKey(Exception):
    """Raised by the password callback: an encrypted key must never prompt on a TTY."""


def default_ca_bundle() -> str:
    """Return the path of the CA bundle requests uses by default (certifi's)."""
    # Lazy: keeps importing this module cheap. types-requests does not declare ``where``.
    from requests.certs import where  # type: ignore[attr-defined]

    path: str = where()
    return path


def build_ssl_context(
    *,
    verify: Union[bool, Path] = True,
    min_version: str | None = None,
    ciphers: Sequence[str] | None = None,
    client_cert: Path | None = None,
    client_key: Path | None = None,
    extra_ca: Path | None = None,
    keylog: str | None = None,
) -> ssl.SSLContext:
    """Client context for connections to the inference service.

    ``verify``: ``True`` trusts the default CA bundle (``default_ca_bundle()``), a path
    trusts exactly that CA file or hashed directory, ``False`` disables verification
    (``check_hostname`` off first, then ``CERT_NONE``). ``min_version`` is ``"TLSv1.2"``
    or ``"TLSv1.3"`` (``None``: urllib3's default); ``ciphers`` are joined with ``:``.
    ``client_cert``/``client_key`` present a client certificate (a missing key means
    the key is in the certificate file; encrypted keys are refused). ``extra_ca`` (the
    proxy's ``cacert``, for TLS-intercepting proxies) is trusted on top of ``verify``;
    with ``verify=False`` it changes nothing. ``keylog`` names a file where TLS session
    keys are appended for debugging (``SSLKEYLOGFILE``); ``None`` logs nothing.

    Raises ``ConfigError`` listing every problem (``network.tls.client_key: ...``).
    """
    errors: list[str] = []
    ctx = _base_context(min_version, ciphers, verify is not False, errors, keylog)
    if verify is not False:
        _load_trust(ctx, None if verify is True else verify, f"{_TLS}.verify", errors)
        if extra_ca is not None:
            _load_trust(ctx, extra_ca, _PROXY_CACERT, errors)
    if client_cert is not None or client_key is not None:
        _load_client_cert(ctx, client_cert, client_key, errors)
    _raise_if(errors)
    return ctx


def build_proxy_ssl_context(
    *,
    cacert: Path | None,
    min_version: str | None = None,
    ciphers: Sequence[str] | None = None,
    keylog: str | None = None,
) -> ssl.SSLContext:
    """Context for the TLS hop to an HTTPS proxy.

    Always verifies the proxy's certificate and host name (also when ``tls.verify`` is
    false): against ``cacert`` when given, else the default CA bundle. Uses
    ``min_version`` and ``ciphers``; never presents a client certificate.

    Raises ``ConfigError`` listing every problem (``network.proxy.cacert: ...``).
    """
    errors: list[str] = []
    ctx = _base_context(min_version, ciphers, True, errors, keylog)
    _load_trust(ctx, cacert, _PROXY_CACERT, errors)
    _raise_if(errors)
    return ctx


def describe_trust(verify: Union[bool, Path], extra_ca: Path | None = None) -> str:
    """Say in words which certificates are trusted, for error messages.

    ``'the default CA bundle (<path>)'``, ``'CA file <path>'``, ``'CA directory <path>'``
    or ``'verification disabled'``; ``' and proxy CA <path>'`` is added when ``extra_ca``
    is given (not when verification is disabled: then it is not used).
    """
    if verify is False:
        return "verification disabled"
    if verify is True:
        words = f"the default CA bundle ({default_ca_bundle()})"
    else:
        kind = "directory" if Path(verify).is_dir() else "file"
        words = f"CA {kind} {verify}"
    return words if extra_ca is None else f"{words} and proxy CA {extra_ca}"


def cipher_error(entry: str) -> str | None:
    """Return a message when OpenSSL selects no cipher from ``entry`` alone, else ``None``.

    The message does not start with a config path: the caller prefixes it. TLS 1.3 suite
    names (``TLS_AES_128_GCM_SHA256``) are rejected too: the cipher list sets TLS 1.2.
    """
    scratch = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        scratch.set_ciphers(entry)
    except (ssl.SSLError, ValueError):  # ValueError: a NUL or an unencodable character
        return (
            f"OpenSSL matches no cipher with {entry!r} (use OpenSSL cipher-list syntax such"
            " as 'ECDHE+AESGCM'; TLS 1.3 suites are not set here)"
        )
    return None


def _base_context(
    min_version: str | None,
    ciphers: Sequence[str] | None,
    verify: bool,
    errors: list[str],
    keylog: str | None,
) -> ssl.SSLContext:
    version = _minimum_version(min_version, errors)
    entries = [ciphers] if isinstance(ciphers, str) else list(ciphers or ())
    problems = _cipher_problems(entries)
    errors.extend(problems)
    joined = ":".join(entries) if entries and not problems else None
    ctx = _new_context(version)
    if joined:
        try:
            ctx.set_ciphers(joined)
        except (ssl.SSLError, ValueError):  # every entry matches alone, the list selects none
            errors.append(f"{_TLS}.ciphers: OpenSSL selects no cipher from {joined!r}")
    if verify:
        ctx.verify_mode = ssl.CERT_REQUIRED  # before check_hostname, which needs it
        ctx.check_hostname = True
    else:
        _disable_verification(ctx)
    if keylog:
        ctx.keylog_filename = keylog
    ctx.set_alpn_protocols(_ALPN)
    return ctx


def _new_context(version: Optional[ssl.TLSVersion]) -> ssl.SSLContext:
    """A client context with urllib3's defaults (``create_urllib3_context``), no env read."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = version or ssl.TLSVersion.TLSv1_2
    ctx.options |= ssl.OP_NO_COMPRESSION | ssl.OP_NO_TICKET
    if sys.version_info >= (3, 13):
        ctx.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN | ssl.VERIFY_X509_STRICT
    ctx.post_handshake_auth = True
    ctx.hostname_checks_common_name = False
    return ctx


def _minimum_version(name: str | None, errors: list[str]) -> ssl.TLSVersion | None:
    if name is None or name in _VERSIONS:
        return None if name is None else _VERSIONS[name]
    errors.append(f"{_TLS}.min_version: {name!r} is not one of 'TLSv1.2', 'TLSv1.3'")
    return None


def _cipher_problems(entries: Sequence[str]) -> list[str]:
    """The entries OpenSSL rejects on their own (a joined list hides them)."""
    messages = (cipher_error(entry) for entry in entries)
    return [f"{_TLS}.ciphers[{i}]: {m}" for i, m in enumerate(messages) if m is not None]


def _disable_verification(ctx: ssl.SSLContext) -> None:
    ctx.check_hostname = False  # first: CERT_NONE is refused while it is on
    ctx.verify_mode = ssl.CERT_NONE


def _load_trust(ctx: ssl.SSLContext, source: Path | None, setting: str, errors: list[str]) -> None:
    """Trust ``source`` (a CA file or hashed directory), or the default bundle if None."""
    path = default_ca_bundle() if source is None else os.fspath(source)
    try:
        if os.path.isdir(path):
            ctx.load_verify_locations(capath=path)
        else:
            ctx.load_verify_locations(cafile=path)
    except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
        errors.append(f"{setting}: cannot load CA certificates from {path}: {_reason(exc)}")


def _load_client_cert(
    ctx: ssl.SSLContext,
    cert: Path | None,
    key: Path | None,
    errors: list[str],
) -> None:
    if cert is None:
        errors.append(f"{_TLS}.client_key: given without {_TLS}.client_cert")
        return
    key_setting = f"{_TLS}.client_key" if key is not None else f"{_TLS}.client_cert"
    files = ((cert, f"{_TLS}.client_cert"), (key, f"{_TLS}.client_key"))
    unreadable = [p for p in (_unreadable(f, s) for f, s in files if f is not None) if p]
    if unreadable:
        errors.extend(unreadable)
        return
    try:
        ctx.load_cert_chain(os.fspath(cert), _fspath(key), password=_refuse_password)
    except _EncryptedKey:
        errors.append(f"{key_setting}: {key or cert} is encrypted; passwords are not supported")
    except (OSError, ValueError) as exc:
        errors.append(_cert_chain_problem(exc, cert, key, key_setting))


def _cert_chain_problem(exc: Exception, cert: Path, key: Path | None, key_setting: str) -> str:
    if getattr(exc, "reason", None) == "KEY_VALUES_MISMATCH":
        return f"{_TLS}.client_key: {key} does not match the certificate {cert}"
    if not _has_certificate(cert):
        return f"{_TLS}.client_cert: no PEM certificate found in {cert}"
    return f"{key_setting}: cannot load a private key from {key or cert}: {_reason(exc)}"


def _has_certificate(path: Path) -> bool:
    scratch = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        scratch.load_verify_locations(cafile=os.fspath(path))
    except (OSError, ValueError):
        return False
    return True


def _unreadable(path: Path, setting: str) -> str | None:
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        return f"{setting}: cannot read {path}: {_reason(exc)}"
    return None


def _reason(exc: Exception) -> str:
    """Words for an error, built from codes only (never from what a file contains)."""
    if isinstance(exc, ssl.SSLError):
        return (exc.reason or "invalid PEM data").lower().replace("_", " ")
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return type(exc).__name__


def _refuse_password() -> NoReturn:
    raise _EncryptedKey


def _fspath(path: Path | None) -> str | None:
    return None if path is None else os.fspath(path)


def _raise_if(errors: list[str]) -> None:
    if errors:
        raise ConfigError(errors)
