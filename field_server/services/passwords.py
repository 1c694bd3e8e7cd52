"""Password hashing with scrypt, a memory-hard KDF from the standard library."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

SCHEME = "scrypt"
MAX_PASSWORD_BYTES = 1024


DEFAULT_COST = 2**17  # 128 MiB and about a third of a second per hash with r=8
BLOCK_SIZE = 8


def hash_password(password: str, *, cost: int = DEFAULT_COST, block_size: int = BLOCK_SIZE) -> str:
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


def needs_rehash(stored: str, cost: int) -> bool:
    """True when a hash was made cheaper than ``cost`` (or in another form): the next sign-in
    that proves the password replaces it."""
    try:
        scheme, stored_cost, block_size, parallel, _, _ = stored.split("$")
        return (scheme, int(block_size), int(parallel)) != (SCHEME, BLOCK_SIZE, 1) or int(
            stored_cost
        ) < cost
    except ValueError:
        return True


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    secret = password.encode("utf-8")
    if len(secret) > MAX_PASSWORD_BYTES:
        raise ValueError("password too long")
    # maxmem leaves headroom over the 128·n·r bytes scrypt needs
    return hashlib.scrypt(secret, salt=salt, n=n, r=r, p=p, dklen=32, maxmem=256 * n * r + 2**20)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")
