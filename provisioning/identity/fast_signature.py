"""A fast path for RFC 9421 verification of the one shape of signature the terminals send: exactly one signature,
plain components (@method, @path, @authority, @query and header fields without parameters), string and integer
parameters written canonically, one SHA-256 Content-Digest. Everything else — and every signature that does not
verify — goes to http-message-signatures, the reference, so a refusal always carries the library's reason.

Why: the library parses both structured fields with a general parser and rebuilds the signature base through its
object model on every request: measured, most of a heartbeat's CPU on the server (bench/dealer_auth.py). This path
accepts only what it fully understands, and tests/provisioning/test_fast_signature.py checks that it and the
library agree, on RFC 9421's own examples too."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# RFC 8941 shapes, restricted to their canonical serialization: what matches here serializes back to itself, so
# the raw text can stand in the signature base as the library's re-serialization would.
_KEY = r"[a-z*][a-z0-9_.*-]*"
_STRING = r'"[ !#-\[\]-~]*"'  # no escapes: a string with \ or " goes to the library
_INTEGER = r"(?:0|-?[1-9][0-9]{0,14})"
_PARAM = re.compile(rf";({_KEY})=({_INTEGER}|{_STRING})")
_SIGNATURE_INPUT = re.compile(rf"({_KEY})=(\(((?:{_STRING}(?: {_STRING})*)?)\)((?:;{_KEY}=(?:{_INTEGER}|{_STRING}))*))")
_BYTES = r":([A-Za-z0-9+/]*={0,2}):"
_SIGNATURE = re.compile(rf"({_KEY})={_BYTES}")
_DIGEST = re.compile(rf"sha-256={_BYTES}")
_COMPONENT = re.compile(r'"(@?[a-z0-9!#$%&\'*+.^_`|~-]+)"')
# A plain absolute http(s) URL without userinfo, IPv6, percent escapes or fragment (those go to the library's parser)
_PLAIN = r"A-Za-z0-9._~!$&'()*+,;=:@\-"
_URL = re.compile(rf"(https?)://([A-Za-z0-9.-]+)(?::([0-9]*))?(/[{_PLAIN}/]*)?(?:\?([{_PLAIN}/?]*))?")
_METADATA = {"alg", "created", "expires", "keyid", "nonce", "tag"}
_DEFAULT_PORTS = {"http": "80", "https": "443"}


@dataclass(frozen=True)
class FastResult:
    """A signature this path verified: its parameters (created, keyid, nonce…) and the key it was verified with."""

    params: dict[str, int | str]
    key: Any


def _b64(text: str) -> bytes | None:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def _derived(name: str, method: str, url: str) -> str | None:
    if name == "@method":
        return method
    parts = _URL.fullmatch(url)
    if parts is None:
        return None  # unusual URLs: the library's own parser decides
    scheme, host, port, path, query = parts.groups()
    if name == "@path":
        return path or "/"
    if name == "@query":
        return "?" + (query or "")
    if name == "@authority":
        return f"{host.lower()}:{port}" if port and port.lstrip("0") != _DEFAULT_PORTS[scheme] else host.lower()
    return None


def _field(value: str) -> str | None:
    """A header field's value as the signature base holds it (trimmed); None where the library must judge."""
    value = value.strip(" \t")
    if "\r" in value or "\n" in value or not value.replace("\t", " ").isprintable() or not value.isascii():
        return None
    return value


def verify_fast(lookup: Callable[[str], Any], algorithm: type, *, method: str, url: str, headers: dict[str, str],
                body: bytes | None, tag: str | None, required: tuple[str, ...], max_age: float | None,
                max_skew: float) -> FastResult | None:
    """The verified signature, or None when this path cannot decide (the caller then asks the library, which
    accepts or refuses with its reason). Never accepts what the library would refuse."""
    fields: dict[str, str] = {}
    for name, value in headers.items():
        if name.lower() in fields:
            return None  # repeated field lines: the library combines them
        fields[name.lower()] = value
    signature_input, signature = fields.get("signature-input"), fields.get("signature")
    if signature_input is None or signature is None or method != method.upper():
        return None
    found = _SIGNATURE_INPUT.fullmatch(signature_input.strip(" \t"))
    signed = _SIGNATURE.fullmatch(signature.strip(" \t"))
    if found is None or signed is None or found.group(1) != signed.group(1):
        return None
    params: dict[str, int | str] = {}
    for name, raw in _PARAM.findall(found.group(4)):
        if name in params or name not in _METADATA:
            return None
        params[name] = raw[1:-1] if raw.startswith('"') else int(raw)
    if not _params_acceptable(params, algorithm, tag, max_age, max_skew):
        return None
    quoted = found.group(3).split(" ") if found.group(3) else []
    components = [m.group(1) for m in map(_COMPONENT.fullmatch, quoted) if m is not None]
    if len(components) != len(quoted) or len(set(components)) != len(components) or not set(required) <= set(
            components):
        return None
    lines = []
    for name in components:
        resolved = _derived(name, method, url) if name.startswith("@") else (
            _field(fields[name]) if name in fields else None)
        if resolved is None or (name.startswith("@") and (not resolved.isprintable() or resolved != resolved.strip())):
            return None
        lines.append(f'"{name}": {resolved}')
    lines.append(f'"@signature-params": {found.group(2)}')
    base = "\n".join(lines)
    raw_signature = _b64(signed.group(2))
    if raw_signature is None or not base.isascii() or not _digest_ok(components, fields, body):
        return None
    key = lookup(str(params["keyid"]))
    if key is None:
        return None
    try:
        algorithm(public_key=key).verify(signature=raw_signature, message=base.encode())
    except Exception:  # any failure: the library says why
        return None
    return FastResult(params, key)


def _params_acceptable(params: dict[str, int | str], algorithm: type, tag: str | None, max_age: float | None,
                       max_skew: float) -> bool:
    created, expires = params.get("created"), params.get("expires", 0)
    if not isinstance(params.get("keyid"), str) or type(created) is not int or type(expires) is not int:
        return False
    if any(not isinstance(params.get(n, ""), str) for n in ("alg", "nonce", "tag")):
        return False
    if tag is not None and params.get("tag") != tag:
        return False
    if params.get("alg", algorithm.algorithm_id) != algorithm.algorithm_id:  # type: ignore[attr-defined]
        return False
    now = time.time()
    if created > now + max_skew or ("expires" in params and expires < now - max_skew):
        return False
    return max_age is None or created + max_age >= now - max_skew


def _digest_ok(components: list[str], fields: dict[str, str], body: bytes | None) -> bool:
    """The library's body rule: with a body given, a non-empty body (or any Content-Digest) needs a covered digest
    that matches; only one sha-256 member is understood here."""
    if body is None:
        return True
    if "content-digest" not in components:
        return not body and "content-digest" not in fields
    digest = _DIGEST.fullmatch(fields["content-digest"].strip(" \t"))
    value = None if digest is None else _b64(digest.group(1))
    return value is not None and hmac.compare_digest(value, hashlib.sha256(body).digest())
