"""The fast RFC 9421 path agrees with http-message-signatures (the reference): it verifies RFC 9421's own example
(Appendix B.2.6), takes the shape terminals send, and never accepts what the library refuses — over signed
variants, tampered and oddly written ones included."""

from __future__ import annotations

import base64
import datetime as dt
import time

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key
from http_message_signatures import HTTPMessageSigner, HTTPMessageVerifier, InvalidSignature, algorithms

from kiosk.dealer_link.signing import ALGORITHM, COVERED, TAG, Message, _OneKey, sign
from provisioning.identity.fast_signature import verify_fast

# RFC 9421 Appendix B.1.4 (test-key-ed25519, public half) and B.2.6 (the example request signed with it).
RFC_PUBLIC = load_der_public_key(base64.b64decode("MCowBQYDK2VwAyEAJrQLj5P/89iXES9+vFgrIy29clF9CC/oPPsw3c5D0bs="))
RFC_URL = "https://example.com/foo?param=Value&Pet=dog"
RFC_HEADERS = {
    "Host": "example.com", "Date": "Tue, 20 Apr 2021 02:07:55 GMT", "Content-Type": "application/json",
    "Content-Digest": "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:",
    "Content-Length": "18",
    "Signature-Input": 'sig-b26=("date" "@method" "@path" "@authority" "content-type" "content-length");'
                       'created=1618884473;keyid="test-key-ed25519"',
    "Signature": "sig-b26=:wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==:",
}
KEY = ec.generate_private_key(ec.SECP256R1())
URL = "https://127.0.0.1:8443/api/v1/terminals/acme/10001/heartbeat"
BODY = b'{"version": "1.0", "outbox_depth": 0}'


def _library(method: str, url: str, headers: dict[str, str], body: bytes | None, algorithm: type, key: object,
             tag: str | None, required: tuple[str, ...], max_age: int | None) -> dict[str, object] | None:
    verifier = HTTPMessageVerifier(signature_algorithm=algorithm, key_resolver=_Public(key))
    verifier.max_clock_skew = dt.timedelta(seconds=30)
    try:
        results = verifier.verify(Message(method, url, headers), body=body, expect_tag=tag,
                                  require_components=required,
                                  max_age=None if max_age is None else dt.timedelta(seconds=max_age))
    except InvalidSignature:
        return None
    return dict(results[0].parameters)


class _Public(_OneKey):
    def __init__(self, key: object) -> None:
        self.public = key

    def resolve_public_key(self, key_id: str) -> object:
        return self.public if key_id in ("test-key-ed25519", "k1") else None


def _both(method: str, url: str, headers: dict[str, str], body: bytes | None, algorithm: type = ALGORITHM,
          key: object = None, tag: str | None = TAG, required: tuple[str, ...] = COVERED,
          max_age: int | None = 300) -> tuple[dict[str, object] | None, dict[str, object] | None]:
    key = key or KEY.public_key()
    fast = verify_fast(lambda key_id: key if key_id in ("test-key-ed25519", "k1") else None, algorithm,
                       method=method, url=url, headers=headers, body=body, tag=tag, required=required,
                       max_age=max_age, max_skew=30)
    return (None if fast is None else dict(fast.params),
            _library(method, url, headers, body, algorithm, key, tag, required, max_age))


def test_rfc_9421_b26_verifies_on_the_fast_path_as_in_the_library():
    fast, library = _both("POST", RFC_URL, RFC_HEADERS, None, algorithms.ED25519, RFC_PUBLIC, tag=None,
                          required=(), max_age=None)
    assert fast == library == {"created": 1618884473, "keyid": "test-key-ed25519"}
    forged = {**RFC_HEADERS, "Date": "Tue, 20 Apr 2021 02:07:56 GMT"}
    assert _both("POST", RFC_URL, forged, None, algorithms.ED25519, RFC_PUBLIC, tag=None, required=(),
                 max_age=None) == (None, None)


def _signed(url: str = URL, body: bytes = BODY, **options: object) -> dict[str, str]:
    message = Message("POST", url)
    signer = HTTPMessageSigner(signature_algorithm=ALGORITHM, key_resolver=_OneKey(KEY))
    settings: dict[str, object] = {"key_id": "k1", "created": dt.datetime.now(dt.UTC), "nonce": "n-1", "tag": TAG,
                                   "covered_component_ids": COVERED, "body": body}
    signer.sign(message, **(settings | options))  # type: ignore[arg-type]
    return message.headers


def test_the_terminals_own_signature_takes_the_fast_path():
    headers = sign("POST", URL, BODY, KEY, "k1")
    fast, library = _both("POST", URL, headers, BODY)
    assert fast is not None and fast == library and fast["keyid"] == "k1"


def _variants() -> list[tuple[str, str, str, dict[str, str], bytes | None]]:
    """(what, method, url, headers, body): signed requests, well-formed, tampered and oddly written."""
    now = dt.datetime.now(dt.UTC)
    good = _signed()
    out = [("good", "POST", URL, good, BODY)]

    def edit(name: str, **changes: str) -> None:
        out.append((name, "POST", URL, {**good, **changes}, BODY))

    out += [("tampered body", "POST", URL, good, BODY + b" "), ("other path", "POST", URL + "x", good, BODY),
            ("other method", "PUT", URL, good, BODY), ("lower-case method", "post", URL, good, BODY),
            ("no body given", "POST", URL, good, None), ("empty body", "POST", URL, good, b"")]
    edit("spaces in the inner list", **{"Signature-Input": good["Signature-Input"].replace('" "', '"  "')})
    edit("leading zero", **{"Signature-Input": good["Signature-Input"].replace(";created=", ";created=0")})
    edit("two labels", **{"Signature-Input": good["Signature-Input"] + ", " + good["Signature-Input"].replace(
        "pyhms=", "other=", 1), "Signature": good["Signature"] + ", " + good["Signature"].replace("pyhms=", "other=")})
    edit("label mismatch", Signature=good["Signature"].replace("pyhms=", "sig2=", 1))
    edit("bad base64", Signature=good["Signature"][:-3] + "!:")
    edit("digest of other body", **{"Content-Digest": _signed(body=b"{}")["Content-Digest"]})
    edit("digest sha-512", **{"Content-Digest": "sha-512=:" + base64.b64encode(b"x" * 64).decode() + ":"})
    edit("digest with spaces", **{"Content-Digest": " " + good["Content-Digest"] + " "})
    edit("no signature", **{"Signature": ""})
    out += [
        ("wrong tag", "POST", URL, _signed(tag="other"), BODY),
        ("no tag", "POST", URL, _signed(tag=None), BODY),
        ("no nonce", "POST", URL, _signed(nonce=None), BODY),
        ("escaped nonce", "POST", URL, _signed(nonce='a"b\\c'), BODY),
        ("future", "POST", URL, _signed(created=now + dt.timedelta(seconds=120)), BODY),
        ("skew inside", "POST", URL, _signed(created=now + dt.timedelta(seconds=10)), BODY),
        ("stale", "POST", URL, _signed(created=now - dt.timedelta(seconds=400)), BODY),
        ("expired", "POST", URL, _signed(expires=now - dt.timedelta(seconds=60)), BODY),
        ("expires later", "POST", URL, _signed(expires=now + dt.timedelta(seconds=60)), BODY),
        ("path not covered", "POST", URL, _signed(covered_component_ids=("@method", "content-digest")), BODY),
        ("more covered", "POST", URL, _signed(covered_component_ids=(*COVERED, "@authority", "@query")), BODY),
        ("query", "POST", URL + "?a=1", _signed(url=URL + "?a=1", covered_component_ids=(*COVERED, "@query")),
         BODY),
        ("default port", "POST", "https://Example.COM:443/p", _signed(url="https://Example.COM:443/p",
                                                                      covered_component_ids=(*COVERED, "@authority")),
         BODY),
        ("no alg", "POST", URL, _signed(include_alg=False), BODY),
        ("percent path", "POST", URL + "%41", _signed(url=URL + "%41"), BODY),
    ]
    return out


@pytest.mark.parametrize("what", [case[0] for case in _variants()])
def test_the_fast_path_never_accepts_what_the_library_refuses(what):
    # signed now, not when the tests were collected: `created` and `expires` are compared with the clock
    _, method, url, headers, body = next(case for case in _variants() if case[0] == what)
    fast, library = _both(method, url, headers, body)
    if fast is not None:
        assert fast == library, what
    plain = what in ("good", "no alg", "skew inside", "expires later", "more covered", "query", "default port",
                     "digest with spaces")
    if plain:
        assert fast is not None and library is not None, f"{what}: the terminals' shape must take the fast path"


def test_the_fast_path_is_several_times_cheaper():
    headers = sign("POST", URL, BODY, KEY, "k1")
    key = KEY.public_key()
    rounds = 200

    def clock(work) -> float:  # type: ignore[no-untyped-def]
        began = time.process_time()
        for _ in range(rounds):
            work()
        return time.process_time() - began

    fast = clock(lambda: verify_fast(lambda _: key, ALGORITHM, method="POST", url=URL, headers=headers, body=BODY,
                                     tag=TAG, required=COVERED, max_age=300, max_skew=30))
    library = clock(lambda: _library("POST", URL, headers, BODY, ALGORITHM, key, TAG, COVERED, 300))
    assert fast < library, (fast, library)
