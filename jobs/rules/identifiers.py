"""Check digits of Chinese identifiers, in plain Python.

The Spark rules in `cn_identifiers` compute the same thing as Column expressions; these versions
serve the sample generator and make the arithmetic easy to test against published examples.
"""

from __future__ import annotations

import re

RESIDENT_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
RESIDENT_ID_CHECK = "10X98765432"
MOBILE_PATTERN = re.compile(r"^1[3-9][0-9]{9}$")

#: Unified social credit code (GB 32100-2015): alphabet without I, O, S, V, Z; value = index.
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
USCC_PATTERN = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$")


def resident_id_check_char(first17: str) -> str:
    """GB 11643 / ISO 7064 MOD 11-2 check character for the first 17 digits."""
    if len(first17) != 17 or not first17.isdigit():
        raise ValueError(f"need 17 digits, got {first17!r}")
    total = sum(int(d) * w for d, w in zip(first17, RESIDENT_ID_WEIGHTS, strict=True))
    return RESIDENT_ID_CHECK[total % 11]


def is_valid_resident_id_checksum(value: str) -> bool:
    """True when an 18-character ID's last character matches its check character."""
    value = value.strip().upper()
    return len(value) == 18 and value[:17].isdigit() and resident_id_check_char(value[:17]) == value[17]


def normalise_mobile(value: str) -> str:
    """Strip separators and the +86 / 0086 prefixes."""
    digits = re.sub(r"[\s\-]", "", value)
    for prefix in ("+86", "0086"):
        if digits.startswith(prefix):
            digits = digits[len(prefix):]
    return digits


def uscc_check_char(first17: str) -> str:
    """GB 32100 check character: (31 - sum mod 31) mod 31, so a remainder of 0 gives '0'."""
    if len(first17) != 17 or any(c not in USCC_ALPHABET for c in first17):
        raise ValueError(f"need 17 characters of {USCC_ALPHABET}, got {first17!r}")
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(first17, USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def is_valid_uscc(value: str) -> bool:
    """Format and check character of a unified social credit code."""
    value = value.strip().upper()
    return bool(USCC_PATTERN.match(value)) and uscc_check_char(value[:17]) == value[17]
