"""Signing and verifying CyberPlat messages in the vendor's IPRIV format, and where the keys come from.

A message is an SM document (ipriv_envelope): the signer's key-id line, a blank CA line, the data, and a v3
signature packet (class 0x01, signer serial, unix time) over MD5(data ‖ metadata). Keys come from the
vendor's files (secret.key with its password, pubkeys.key looked up by serial: ipriv_keys); PEM files remain
as an extra for labs. Passwords are read from the configuration, an environment variable or a file, and are
never logged or kept in the options.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, MutableMapping
from pathlib import Path
from typing import Any, TypeVar

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from kiosk.gateways.ipriv_envelope import (
    BLANK,
    CLASS_MESSAGE,
    ENCODING,
    Document,
    EnvelopeError,
    KeyId,
    make_signature,
    parse_documents,
    read_signature,
    signature_holds,
)
from kiosk.gateways.ipriv_keys import (
    KeyFileError,
    PublicKeyRing,
    SecretKey,
    UnknownKeyError,
    load_public_ring,
    load_secret_key,
)

__all__ = ["KeyFileError", "KeyId", "SecretKey", "SignatureError", "decode_fields", "encode_fields",
           "load_server_keys", "load_signing_key", "sign", "verify"]


T = TypeVar("T")


class SignatureError(Exception):
    """The document is malformed, signed by a key we do not hold, or its signature does not verify."""


def sign(data: bytes, key: SecretKey, now: float | None = None) -> bytes:
    """Wrap data (already Windows-1251) into a signed SM document, as the vendor's library does."""
    created = int(now if now is not None else time.time())
    signature = make_signature(data, key.key, CLASS_MESSAGE, key.key_id.serial, created)
    return Document("SM", key.key_id, BLANK, data, len(data), signature).render()


def verify(document: bytes, keys: Mapping[int, rsa.RSAPublicKey]) -> tuple[bytes, KeyId]:
    """Check a signed document with the key whose serial its signer line names; the data and the signer."""
    try:
        parsed = parse_documents(document, "signed document")
        if len(parsed) != 1 or parsed[0].kind != "SM":
            raise SignatureError(f"expected one signed message (SM), got {[d.kind for d in parsed]}")
        message = parsed[0]
        if message.data_length != len(message.body):
            raise SignatureError(f"data length {message.data_length} is not the body's {len(message.body)}")
        signature = read_signature(message.signature, "signed document")
    except EnvelopeError as exc:
        raise SignatureError(str(exc)) from exc
    signer = message.subject
    if signature.sig_class != CLASS_MESSAGE or signature.serial != signer.serial:
        raise SignatureError(f"the signature (class {signature.sig_class}, key {signature.serial}) is not a "
                             f"message signature by the signer line's key {signer.serial}")
    if isinstance(keys, PublicKeyRing):
        try:  # the ring knows why a key it holds back cannot be used
            keys.entry(signer.serial)
        except UnknownKeyError:
            pass
        except KeyFileError as exc:
            raise SignatureError(f"signed by key serial {signer.serial}, which the ring refuses: {exc}") from exc
    key = keys.get(signer.serial)
    if key is None:
        raise SignatureError(f"signed by key serial {signer.serial} ({signer.name!r}), which is not in our key ring")
    if not signature_holds(signature, message.body, key):
        raise SignatureError(f"the signature by key {signer.serial} does not verify (altered or forged)")
    return message.body, signer


def encode_fields(fields: Mapping[str, str]) -> bytes:
    """KEY=VALUE lines joined with CRLF, Windows-1251; line breaks in values are flattened."""
    lines = [f"{k}={' '.join(str(v).splitlines())}" for k, v in fields.items()]
    return "\r\n".join(lines).encode(ENCODING, errors="replace")


def decode_fields(data: bytes) -> dict[str, str]:
    """KEY=VALUE lines (Windows-1251) into a dict."""
    out: dict[str, str] = {}
    for line in data.decode(ENCODING, errors="replace").splitlines():
        key, sep, value = line.partition("=")
        if sep:
            out[key.strip()] = value.strip()
    return out


# -- where keys come from (adapter configuration) -----------------------------------------------------
def password_from(options: MutableMapping[str, Any], prefix: str, what: str) -> str | None:
    """A password from `<prefix>` (inline), `<prefix>_env` (variable name) or `<prefix>_file`; removes it."""
    sources = [k for k in (prefix, f"{prefix}_env", f"{prefix}_file") if options.get(k) not in (None, "")]
    if len(sources) > 1:
        raise ValueError(f"{what}: give only one of {', '.join(sources)}")
    inline = options.pop(prefix, None)
    if not sources:
        return None
    if sources[0] == prefix:
        return str(inline)
    if sources[0].endswith("_env"):
        variable = str(options[sources[0]])
        if variable not in os.environ:
            raise ValueError(f"{what}: environment variable {variable} ({sources[0]}) is not set")
        return os.environ[variable]
    path = Path(str(options[sources[0]])).expanduser()
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ValueError(f"{what}: cannot read {sources[0]} {path} ({exc.strerror})") from exc
    return lines[0] if lines else ""


def load_signing_key(options: MutableMapping[str, Any], what: str) -> SecretKey:
    """Our secret key: `secret_key` (vendor file) or `private_key` (PEM, with `key_serial`, `key_name`)."""
    if options.get("secret_key"):
        password = password_from(options, "secret_key_password", what)
        key = load_secret_key(Path(str(options["secret_key"])).expanduser(), password)
        if options.get("key_serial") not in (None, "") and int(options["key_serial"]) != key.key_id.serial:
            raise KeyFileError(f"{what}: key_serial {options['key_serial']} but {options['secret_key']} holds "
                               f"key {key.key_id.serial}")
        return key
    if not options.get("private_key") or options.get("key_serial") in (None, ""):
        raise ValueError(f"{what}: option 'secret_key' (or 'private_key' with 'key_serial') is required")
    password = password_from(options, "private_key_password", what)
    path = Path(str(options["private_key"])).expanduser()
    private = _pem(path, "private", lambda data: serialization.load_pem_private_key(
        data, password.encode() if password else None))
    if not isinstance(private, rsa.RSAPrivateKey):
        raise KeyFileError(f"{path}: not an RSA private key")
    return SecretKey(KeyId(str(options.get("key_name", options.get("sd", ""))), int(options["key_serial"])), private)


def load_server_keys(options: Mapping[str, Any], what: str) -> dict[int, rsa.RSAPublicKey]:
    """The processing's key that must sign replies: `public_keys` ring (vendor) or `server_public_key` (PEM)."""
    if options.get("server_key_serial") in (None, ""):
        raise ValueError(f"{what}: option 'server_key_serial' is required")
    serial = int(options["server_key_serial"])
    if options.get("public_keys"):
        ring = load_public_ring(Path(str(options["public_keys"])).expanduser())
        return {serial: ring.entry(serial).key}
    if not options.get("server_public_key"):
        raise ValueError(f"{what}: option 'public_keys' (or 'server_public_key', PEM) is required")
    path = Path(str(options["server_public_key"])).expanduser()
    public = _pem(path, "public", serialization.load_pem_public_key)
    if not isinstance(public, rsa.RSAPublicKey):
        raise KeyFileError(f"{path}: not an RSA public key")
    return {serial: public}


def _pem(path: Path, kind: str, load: Callable[[bytes], T]) -> T:
    """A PEM key, with a missing file or a wrong password said plainly (the library raises three kinds)."""
    try:
        return load(path.read_bytes())
    except OSError as exc:
        raise KeyFileError(f"{path}: cannot read the {kind} key ({exc.strerror})") from exc
    except (ValueError, TypeError) as exc:  # TypeError: a password given for a plain key, or none for an encrypted one
        raise KeyFileError(f"{path}: cannot load the PEM {kind} key (wrong password or not PEM: {exc})") from exc
