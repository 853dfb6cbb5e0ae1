"""eSSP encryption: the Diffie-Hellman key exchange and AES-128-ECB packets with eCOUNT checked both ways.

Key = fixed 64-bit part (low 8 bytes) + negotiated 64-bit part (high 8 bytes), each little-endian; default fixed
key 0x0123456701234567. An encrypted packet's DATA is STEX(0x7E) + AES(eLENGTH eCOUNT(4, LE) eDATA packing
eCRC), padded with random bytes to a multiple of 16, eCRC being the SSP CRC over everything before it.

eCOUNT resets to 0 on key negotiation. Two readings of the manual exist (see essp.md): with `step` 1 a command
carries N, its reply N+1 and the next command N+1 (ITL's host library); with `step` 2 every packet counts, so
the next command carries N+2. Both ends must agree; a packet with any other count is refused.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from kiosk.drivers.essp_frame import STEX, crc16, le

DEFAULT_FIXED_KEY = 0x0123456701234567
_WITNESSES = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37)  # deterministic Miller–Rabin below 3.3e24


class CryptoError(ValueError):
    """An encrypted packet that must be refused: bad length, bad eCRC, or an unexpected eCOUNT."""


def is_prime(n: int) -> bool:
    """Deterministic Miller–Rabin for the 64-bit numbers eSSP uses."""
    if n < 2:
        return False
    for p in _WITNESSES:
        if n % p == 0:
            return n == p
    d, r = n - 1, 0
    while d % 2 == 0:
        d, r = d // 2, r + 1
    for a in _WITNESSES:
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(r - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


def random_prime(bits: int = 62) -> int:
    """A random prime of the given size (the DH generator and modulus are primes; 8-byte fields)."""
    while True:
        candidate = secrets.randbits(bits) | (1 << (bits - 1)) | 1
        if is_prime(candidate):
            return candidate


def dh_primes() -> tuple[int, int]:
    """(generator, modulus): two distinct random primes, the generator the larger, as ITL asks."""
    a, b = random_prime(), random_prime()
    while a == b:
        b = random_prime()
    return max(a, b), min(a, b)


def random_exponent(bits: int = 62) -> int:
    """A secret DH exponent."""
    return secrets.randbits(bits) | 1


def session_key(fixed_key: int, negotiated: int) -> bytes:
    """The 16-byte AES key: fixed part then negotiated part, both little-endian."""
    return le(fixed_key) + le(negotiated)


def parse_fixed_key(text: str | int) -> int:
    """A fixed key from configuration: 16 hex digits (an optional 0x), or an int."""
    if isinstance(text, int):
        value = text
    else:
        try:
            value = int(text.strip().removeprefix("0x"), 16)
        except ValueError as exc:
            raise ValueError(f"fixed_key must be 16 hex digits, got {text!r}") from exc
    if not 0 <= value < 1 << 64:
        raise ValueError(f"fixed_key must fit in 64 bits, got {text!r}")
    return value


@dataclass(slots=True)
class Channel:
    """One side's encryption state: the key and the eCOUNT the next packet sent / received must carry."""

    key: bytes
    step: int = 1
    count: int = 0  # eCOUNT of the next command (host side: to send; slave side: to expect)

    def __post_init__(self) -> None:
        if self.step not in (1, 2):
            raise ValueError(f"eCOUNT step must be 1 or 2, got {self.step}")

    def _cipher(self) -> Cipher:
        return Cipher(algorithms.AES(self.key), modes.ECB())  # noqa: S305 - ECB is what the protocol specifies

    def seal(self, data: bytes, count: int) -> bytes:
        """STEX + the encrypted block for data with eCOUNT = count."""
        head = bytes((len(data),)) + le(count, 4) + data
        packing = secrets.token_bytes(-(len(head) + 2) % 16)
        plain = head + packing
        crc = crc16(plain)
        plain += bytes((crc & 0xFF, crc >> 8))
        encryptor = self._cipher().encryptor()
        return bytes((STEX,)) + encryptor.update(plain) + encryptor.finalize()

    def open(self, data: bytes, count: int) -> bytes:
        """The eDATA inside an encrypted DATA field, checking its eCRC and that it carries eCOUNT = count."""
        if not data or data[0] != STEX:
            raise CryptoError("not an encrypted packet (no STEX)")
        block = data[1:]
        if not block or len(block) % 16:
            raise CryptoError(f"encrypted part of {len(block)} bytes is not a whole number of AES blocks")
        decryptor = self._cipher().decryptor()
        plain = decryptor.update(block) + decryptor.finalize()
        if crc16(plain[:-2]) != plain[-2] | plain[-1] << 8:
            raise CryptoError("eCRC check failed (wrong key or damaged packet)")
        length, got = plain[0], int.from_bytes(plain[1:5], "little")
        if 5 + length > len(plain) - 2:
            raise CryptoError(f"eLENGTH {length} overruns the packet")
        if got != count:
            raise CryptoError(f"eCOUNT {got}, expected {count}: replayed or out-of-order packet refused")
        return plain[5:5 + length]

    # -- the host's view --------------------------------------------------------------------------
    def seal_command(self, data: bytes) -> bytes:
        """Encrypt a command with the current count (a resend of the same command reuses it)."""
        return self.seal(data, self.count)

    def open_reply(self, data: bytes) -> bytes:
        """Decrypt the reply to the last command (it carries count + 1) and move on to the next count."""
        inner = self.open(data, (self.count + 1) & 0xFFFFFFFF)
        self.count = (self.count + self.step) & 0xFFFFFFFF
        return inner

    # -- the slave's view -------------------------------------------------------------------------
    def open_command(self, data: bytes) -> bytes:
        """Decrypt a command, which must carry exactly the expected count."""
        return self.open(data, self.count)

    def seal_reply(self, data: bytes) -> bytes:
        """Encrypt the reply to the command just opened (count + 1) and expect the next count."""
        sealed = self.seal(data, (self.count + 1) & 0xFFFFFFFF)
        self.count = (self.count + self.step) & 0xFFFFFFFF
        return sealed
