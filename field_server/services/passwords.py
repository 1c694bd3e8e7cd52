"""Password hashing with scrypt, a memory-hard KDF from the standard library."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

SCHEME = "scrypt"
MAX_PASSWORD_BYTES = 1024


def hash_password(password: str, *, cost: int = 2**15, block_size: int = 8) -> str:
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, cost, block_size, 1)
    return "$".join([SCHEME, str(cost), str(block_size), "1", _b64(salt), _b64(digest)])


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, cost, block_size, parallel, salt, digest = stored.split("$")
        if scheme != SCHEME:
            return False
        expected = base64.b64decode(digest)
        actual = _scrypt(
            password, base64.b64decode(salt), int(cost), int(block_size), int(parallel)
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(expected, actual)


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    secret = password.encode("utf-8")
    if len(secret) > MAX_PASSWORD_BYTES:
        raise ValueError("password too long")
    # maxmem leaves headroom over the 128·n·r bytes scrypt needs
    return hashlib.scrypt(secret, salt=salt, n=n, r=r, p=p, dklen=32, maxmem=256 * n * r + 2**20)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")
