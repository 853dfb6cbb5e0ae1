"""Writing CyberPlat-format key files: a secret.key (IDEA-encrypted) and a pubkeys.key ring.

CyberPlat issues real keys with its own tool; these writers exist so that emulators, tests and a dealer's
lab can have key pairs of their own that the same loaders (ipriv_keys) read like the vendor's files.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import rsa

from kiosk.gateways.ipriv_envelope import (
    BLANK,
    CLASS_KEY_CERTIFICATE,
    Document,
    KeyId,
    make_signature,
)
from kiosk.gateways.ipriv_keys import CIPHER_IDEA, SecretKey, password_bytes
from kiosk.gateways.ipriv_packets import (
    TAG_PUBLIC_KEY,
    TAG_SECRET_KEY,
    TAG_TRUST,
    TAG_USER_ID,
    IdeaCfb,
    armour,
    mpi,
    write_packet,
)
from kiosk.offline_queue.files import write_atomically

PUBLIC_EXPONENT = 65537  # the vendor uses 17; the library generates only 3 or 65537, and both verify alike
TRUST_KEY, TRUST_USER_ID = b"\x87", b"\x03"


@dataclass(frozen=True, slots=True)
class GeneratedKey:
    """A new key pair with the creation time its packets carry."""

    secret: SecretKey
    created: int


def generate_key(name: str, serial: int, bits: int = 1024, created: int | None = None) -> GeneratedKey:
    """A fresh RSA key pair named and numbered as CyberPlat would."""
    key = rsa.generate_private_key(public_exponent=PUBLIC_EXPONENT, key_size=bits)
    return GeneratedKey(SecretKey(KeyId(name, serial), key), int(created if created is not None else time.time()))


def _public_body(generated: GeneratedKey) -> bytes:
    numbers = generated.secret.key.public_key().public_numbers()
    return (bytes([3]) + generated.secret.key_id.serial.to_bytes(4, "big") + generated.created.to_bytes(4, "big")
            + (0).to_bytes(2, "big") + bytes([1]) + mpi(numbers.n) + mpi(numbers.e))


def secret_key_document(generated: GeneratedKey, password: str) -> bytes:
    """The secret.key text: the key packet with d, p, q, u encrypted under MD5(password), then the user id."""
    private = generated.secret.key.private_numbers()
    p, q = sorted((private.p, private.q))  # PGP keeps p < q and u = p⁻¹ mod q
    iv = secrets.token_bytes(8)
    idea = IdeaCfb(hashlib.md5(password_bytes(password, "the new secret key")).digest(), iv)
    encrypted, checksum = b"", 0
    for value in (private.d, p, q, pow(p, -1, q)):
        plain = mpi(value)
        checksum += sum(plain)
        encrypted += plain[:2] + idea.encrypt(plain[2:])
    body = _public_body(generated) + bytes([CIPHER_IDEA]) + iv + encrypted + (checksum & 0xFFFF).to_bytes(2, "big")
    packets = (write_packet(TAG_SECRET_KEY, body, long_length=True)
               + write_packet(TAG_USER_ID, generated.secret.key_id.name.encode("cp1251")))
    document = Document("NM", generated.secret.key_id, BLANK, armour(packets), len(packets), b"")
    return document.render(final_crlf=False)


def public_key_document(generated: GeneratedKey, ca: GeneratedKey) -> bytes:
    """One ring entry: the public key, its user id and the CA's certificate over them."""
    body, user_id = _public_body(generated), generated.secret.key_id.name.encode("cp1251")
    packets = (write_packet(TAG_PUBLIC_KEY, body, long_length=True) + write_packet(TAG_TRUST, TRUST_KEY)
               + write_packet(TAG_USER_ID, user_id) + write_packet(TAG_TRUST, TRUST_USER_ID))
    signed = b"\x99" + len(body).to_bytes(2, "big") + body + user_id
    certificate = make_signature(signed, ca.secret.key, CLASS_KEY_CERTIFICATE, ca.secret.key_id.serial,
                                 generated.created)
    return Document("NS", generated.secret.key_id, ca.secret.key_id, armour(packets), len(packets),
                    certificate).render()


def write_key_files(directory: str | Path, secret: GeneratedKey, password: str,
                    ring: Iterable[tuple[GeneratedKey, GeneratedKey]]) -> None:
    """secret.key and pubkeys.key (from (key, its CA) pairs), each written atomically with mode 0600."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    write_atomically(directory / "secret.key", secret_key_document(secret, password))
    write_atomically(directory / "pubkeys.key", b"".join(public_key_document(k, ca) for k, ca in ring))

