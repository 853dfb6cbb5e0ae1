"""CyberPlat IPRIV envelope cost: signing and verifying a typical pay request in the vendor's format, as a ratio
to bare RSA PKCS#1 v1.5 / MD5 sign and verify with the same key in the same run (the envelope, armour,
CRC-24 and parsing are what the ratio adds), plus the time to load the vendor's secret.key (IDEA-CFB).

Target: the envelope adds well under 1 ms per document (a pay request round trip is ~100 ms).
Usage: ./dev bench cyberplat_sign [ROUNDS]
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from kiosk.gateways.cyberplat_sign import encode_fields, sign, verify
from kiosk.gateways.ipriv_keygen import generate_key
from kiosk.gateways.ipriv_keys import SecretKey, load_public_ring, load_secret_key

VECTORS = Path(__file__).resolve().parents[1] / "tests" / "gateways" / "data" / "cyberplat"
REQUEST = encode_fields({"SD": "17031", "AP": "17032", "OP": "17034", "DATE": "01.03.2026 09:00:05",
                         "SESSION": "10001N123456", "NUMBER": "9161234567", "AMOUNT": "1000.00",
                         "AMOUNT_ALL": "1000.00", "PAY_TOOL": "0", "TERM_ID": "17032", "ACCEPT_KEYS": "64182",
                         "COMMENT": "Оплата за май"})


def per_call(action: Callable[[], object], rounds: int) -> float:
    """Seconds per call, best of three runs."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(rounds):
            action()
        best = min(best, (time.perf_counter() - started) / rounds)
    return best


def measure(label: str, secret: SecretKey, rounds: int) -> None:
    """Print sign and verify figures for one key."""
    public = {secret.key_id.serial: secret.key.public_key()}
    document = sign(REQUEST, secret)
    raw = secret.key.sign(REQUEST, padding.PKCS1v15(), hashes.MD5())
    bare_sign = per_call(lambda: secret.key.sign(REQUEST, padding.PKCS1v15(), hashes.MD5()), rounds)
    bare_verify = per_call(lambda: public[secret.key_id.serial].verify(raw, REQUEST, padding.PKCS1v15(),
                                                                        hashes.MD5()), rounds)
    ours_sign = per_call(lambda: sign(REQUEST, secret), rounds)
    ours_verify = per_call(lambda: verify(document, public), rounds)
    print(f"{label}: sign {ours_sign * 1e3:.3f} ms (bare RSA {bare_sign * 1e3:.3f} ms, ratio "
          f"{ours_sign / bare_sign:.2f}); verify {ours_verify * 1e3:.3f} ms (bare RSA {bare_verify * 1e3:.3f} ms, "
          f"ratio {ours_verify / bare_verify:.2f}); document {len(document)} bytes")


def main() -> None:
    """Run the figures for the vendor's 512-bit test key and a generated 1024-bit key."""
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    load = per_call(lambda: load_secret_key(VECTORS / "secret.key", "1111111111"), 20)
    ring = per_call(lambda: load_public_ring(VECTORS / "pubkeys.key"), 20)
    print(f"load vendor secret.key (IDEA-CFB, checks) {load * 1e3:.2f} ms; pubkeys.key (2 keys, certificates "
          f"verified) {ring * 1e3:.2f} ms")
    measure("vendor key 17033, RSA-512", load_secret_key(VECTORS / "secret.key", "1111111111"), rounds)
    measure("generated key, RSA-1024", generate_key("BENCH", 1, 1024).secret, rounds)


if __name__ == "__main__":
    main()
