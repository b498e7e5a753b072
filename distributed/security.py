"""Who may talk to a cluster: TLS settings and the shared-secret token.

A ``Security`` holds what one process needs to connect and to listen:

- TLS: a CA file (the peers it trusts), a certificate and its key (what it
  shows). With a CA, servers ask connecting peers for a certificate signed by
  it (mutual TLS) unless ``require_client_cert=False``; clients always check
  the server's. Hostnames are not checked: a peer is trusted because the
  cluster's CA signed its certificate (cluster addresses are often bare IPs).
  When TLS is on, ``tcp://`` addresses are served and reached over TLS.
- a token: a shared secret every scheduler, worker, nanny and client proves
  in the comm handshake (an HMAC challenge-response, see ``comm.py``) before
  any message is read, so a peer without it never gets a byte unpickled.

``Security.from_config()`` reads ``distributed.comm.tls.*`` and
``distributed.comm.token`` (also from the environment, e.g.
``SHOAL_DISTRIBUTED__COMM__TOKEN``); the command-line tools take
``--tls-ca-file --tls-cert --tls-key --token``. ``Security.temporary()``
makes a self-signed certificate (with the ``cryptography`` package) for
tests and one-machine clusters.

>>> sec = Security(token="s3cret")
>>> sec.tls, sec
(False, Security(tls=off, token=set))
"""

from __future__ import annotations

import atexit
import datetime
import ipaddress
import json
import os
import secrets
import shutil
import ssl
import tempfile
import threading
from typing import Any

import shoal.distributed.settings  # noqa: F401  (registers the config defaults)
from shoal.core import config

__all__ = ["Security", "TOKEN_ENV"]

TOKEN_ENV = "SHOAL_DISTRIBUTED__COMM__TOKEN"

_contexts: dict[tuple, ssl.SSLContext] = {}
_contexts_lock = threading.Lock()


class Security:
    """TLS files and a token (see module docstring); immutable.

    >>> Security(tls_cert="c.pem")
    Traceback (most recent call last):
    ...
    ValueError: TLS needs tls_cert and tls_key together, got tls_cert='c.pem' and tls_key=None
    """

    __slots__ = ("tls_ca_file", "tls_cert", "tls_key", "require_client_cert", "token")
    tls_ca_file: str | None
    tls_cert: str | None
    tls_key: str | None
    require_client_cert: bool
    token: str | None

    def __init__(
        self,
        tls_ca_file: str | None = None,
        tls_cert: str | None = None,
        tls_key: str | None = None,
        require_client_cert: bool = True,
        token: str | None = None,
    ):
        if bool(tls_cert) != bool(tls_key):
            raise ValueError(
                "TLS needs tls_cert and tls_key together, got "
                f"tls_cert={tls_cert!r} and tls_key={tls_key!r}"
            )
        if token is not None and not isinstance(token, str):
            raise TypeError(f"the token must be a string, got {type(token).__name__}")
        for name, path in (
            ("tls_ca_file", tls_ca_file),
            ("tls_cert", tls_cert),
            ("tls_key", tls_key),
        ):
            if path and not os.path.isfile(path):
                raise FileNotFoundError(f"{name}: no such file {path!r}")
        set_ = object.__setattr__
        set_(self, "tls_ca_file", tls_ca_file or None)
        set_(self, "tls_cert", tls_cert or None)
        set_(self, "tls_key", tls_key or None)
        set_(self, "require_client_cert", bool(require_client_cert))
        set_(self, "token", token or None)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Security is immutable; make a new one")

    @property
    def tls(self) -> bool:
        """Whether connections use TLS."""
        return bool(self.tls_cert or self.tls_ca_file)

    @property
    def secret(self) -> bytes:
        """The token as the handshake's HMAC key (empty without a token)."""
        return (self.token or "").encode()

    def __repr__(self) -> str:
        tls = "off" if not self.tls else ("mutual" if self._mutual else "on")
        return f"Security(tls={tls}, token={'set' if self.token else 'none'})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Security) and self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash(self._fields())

    def _fields(self) -> tuple[str | None, str | None, str | None, bool, str | None]:
        return (
            self.tls_ca_file,
            self.tls_cert,
            self.tls_key,
            self.require_client_cert,
            self.token,
        )

    @property
    def _mutual(self) -> bool:
        return bool(self.tls_ca_file and self.tls_cert and self.require_client_cert)

    # ------------------------------------------------------------ sources

    @classmethod
    def from_config(cls) -> Security:
        """The settings of this process (``distributed.comm.tls.*``,
        ``distributed.comm.token``).

        >>> Security.from_config().tls
        False
        """
        token = config.get("distributed.comm.token")
        return cls(
            tls_ca_file=config.get("distributed.comm.tls.ca-file"),
            tls_cert=config.get("distributed.comm.tls.cert"),
            tls_key=config.get("distributed.comm.tls.key"),
            require_client_cert=bool(config.get("distributed.comm.tls.require-client-cert")),
            token=None if token is None else str(token),
        )

    def with_token(self, token: str | None) -> Security:
        """The same TLS settings with another token.

        >>> Security().with_token("t").token
        't'
        """
        return Security(
            self.tls_ca_file, self.tls_cert, self.tls_key, self.require_client_cert, token
        )

    @classmethod
    def temporary(cls, token: str | bool | None = None) -> Security:
        """A self-signed certificate (its own CA) in a private temporary
        directory removed at exit; ``token=True`` adds a random token.

        >>> sec = Security.temporary(token=True)
        >>> sec.tls, len(sec.token) > 20
        (True, True)
        """
        cert, key = _self_signed_pem()
        directory = tempfile.mkdtemp(prefix="shoal-tls-")
        atexit.register(shutil.rmtree, directory, True)
        cert_path = os.path.join(directory, "cert.pem")
        key_path = os.path.join(directory, "key.pem")
        for path, data in ((cert_path, cert), (key_path, key)):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
        if token is True:
            token = secrets.token_urlsafe(32)
        return cls(cert_path, cert_path, key_path, True, token or None)

    # ----------------------------------------------------------- contexts

    def server_context(self) -> ssl.SSLContext | None:
        """The context a listener wraps accepted sockets in (None without TLS)."""
        if not self.tls:
            return None
        if not self.tls_cert:
            raise ValueError(
                "listening with TLS needs a certificate and key (tls_cert, tls_key; "
                "--tls-cert --tls-key; distributed.comm.tls.cert/key)"
            )
        return self._context(server=True)

    def client_context(self) -> ssl.SSLContext | None:
        """The context outgoing connections use (None without TLS)."""
        return self._context(server=False) if self.tls else None

    def dashboard_context(self) -> ssl.SSLContext | None:
        """A server context that asks browsers for no certificate (for HTTPS)."""
        if not self.tls_cert:
            return None
        return self._context(server=True, browsers=True)

    def _context(self, server: bool, browsers: bool = False) -> ssl.SSLContext:
        key = (*self._fields()[:4], server, browsers)
        with _contexts_lock:
            ctx = _contexts.get(key)
            if ctx is None:
                ctx = _contexts[key] = self._new_context(server, browsers)
            return ctx

    def _new_context(self, server: bool, browsers: bool) -> ssl.SSLContext:
        # not create_default_context: that also trusts the system's CAs, so any
        # certificate a public CA signed would pass for a cluster member
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER if server else ssl.PROTOCOL_TLS_CLIENT)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        if self.tls_ca_file:
            ctx.load_verify_locations(cafile=self.tls_ca_file)
        if self.tls_cert:
            ctx.load_cert_chain(self.tls_cert, self.tls_key)
        if server:
            mutual = self._mutual and not browsers
            ctx.verify_mode = ssl.CERT_REQUIRED if mutual else ssl.CERT_NONE
        else:
            ctx.check_hostname = False  # trust comes from the cluster's CA, see module doc
            ctx.verify_mode = ssl.CERT_REQUIRED
            if not self.tls_ca_file:
                raise ValueError(
                    "connecting with TLS needs a CA file to check the server "
                    "(tls_ca_file; --tls-ca-file; distributed.comm.tls.ca-file)"
                )
        return ctx

    # ------------------------------------------------- child processes

    def command_line(self) -> list[str]:
        """Options that give a child process (a worker under a nanny) the same
        TLS files; the token goes through ``environment()`` instead, so it
        never shows in a process list.

        >>> Security().command_line()
        []
        """
        out = []
        for flag, value in (
            ("--tls-ca-file", self.tls_ca_file),
            ("--tls-cert", self.tls_cert),
            ("--tls-key", self.tls_key),
        ):
            if value:
                out += [flag, value]
        if self.tls and not self.require_client_cert:
            out.append("--tls-no-client-cert")
        return out

    def environment(self) -> dict[str, str]:
        """Environment variables carrying the token to a child process (quoted,
        so the config's YAML parsing keeps it a string).

        >>> Security(token="123").environment()
        {'SHOAL_DISTRIBUTED__COMM__TOKEN': '"123"'}
        """
        return {TOKEN_ENV: json.dumps(self.token)} if self.token else {}


def _self_signed_pem() -> tuple[bytes, bytes]:
    """A P-256 key and a certificate for it that is its own CA, valid for a
    year, for server and client authentication."""
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    except ImportError as e:  # pragma: no cover - a test dependency
        raise ImportError(
            "Security.temporary() needs the cryptography package (pip install cryptography)"
        ) from e
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "shoal temporary cluster")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem
