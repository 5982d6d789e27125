"""Keyed pseudonymisation: HMAC-SHA256 of the value under a secret key, computed by Spark itself.

HMAC(K, m) = H((K ^ opad) || H((K ^ ipad) || m)); only the two padded key blocks enter the plan, never
the key in clear, and no Python UDF runs. The hex digest's digits are spelled as letters (0-9 -> g-p) so
a pseudonym can never look like a phone number, ID or card number to the PII scanner; the mapping is
one-to-one, so equal values still get equal pseudonyms (joins and distinct counts keep working).
"""

from __future__ import annotations

import hashlib

from pyspark.sql import Column
from pyspark.sql import functions as F

from jobs.errors import ConfigurationError

BLOCK = 64  # SHA-256 block size in bytes
DIGITS, LETTERS = "0123456789", "ghijklmnop"


def _pads(key: bytes) -> tuple[bytes, bytes]:
    if len(key) > BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(BLOCK, b"\0")
    return bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)


def pseudonymize(value: Column, key: str | None) -> Column:
    """The pseudonym of `value` (as UTF-8 text) under `key`; null stays null.

    Raises:
        ConfigurationError: no key is configured (CITYLAKE_PSEUDONYM_KEY or the Airflow connection
            `citylake_pseudonym`); publishing a field declared `pseudonymize` cannot go on without one.
    """
    if not key:
        raise ConfigurationError("a field is declared publish: pseudonymize but no key is configured; set "
                                 "CITYLAKE_PSEUDONYM_KEY or the Airflow connection citylake_pseudonym (password)")
    inner_pad, outer_pad = _pads(key.encode("utf-8"))
    message = F.encode(value.cast("string"), "UTF-8")
    inner = F.unhex(F.sha2(F.concat(F.lit(inner_pad), message), 256))
    digest = F.sha2(F.concat(F.lit(outer_pad), inner), 256)
    return F.when(value.isNotNull(), F.translate(digest, DIGITS, LETTERS))


def pseudonym_of(text: str, key: str) -> str:
    """The same pseudonym in plain Python (for tests and for looking a value up on request)."""
    import hmac

    return hmac.new(key.encode("utf-8"), text.encode("utf-8"), hashlib.sha256).hexdigest().translate(
        str.maketrans(DIGITS, LETTERS))
