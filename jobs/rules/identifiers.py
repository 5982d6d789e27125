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


#: GB 32100 position 1, the registration authority (登记管理部门码), and position 2, the organisation types
#: (机构类别码) it registers: the 2015 table (1, 5, 9, Y), the authorities added since (2 外交 to 8 工会, A, N),
#: and codes issued in practice since (民政 54/55 村民/居民委员会, G 公安 for foreign NGOs' offices, J 住建 for
#: owners' assemblies, Q 侨联, 司法行政 36 商事调解, 工会 82, 工商 99). A validator must not reject a genuine code,
#: so the later ones are kept although they are documented only by the registries that issue them.
USCC_AUTHORITIES: dict[str, tuple[str, str]] = {
    "1": ("机构编制", "1239"), "2": ("外交", "19"), "3": ("司法行政", "1234569"), "4": ("文化", "19"),
    "5": ("民政", "12349"), "6": ("旅游", "129"), "7": ("宗教", "129"), "8": ("工会", "129"),
    "9": ("工商（市场监管）", "1239"), "A": ("中央军委改革和编制办公室", "19"), "G": ("公安", "19"),
    "J": ("住房城乡建设", "19"), "N": ("农业农村", "1239"), "Q": ("侨联", "1239"), "Y": ("其他", "1"),
}
#: 民政's 54 / 55 are two-digit type codes in use (village / residents' committees, since 2018)
USCC_EXTRA_TYPES = frozenset({"54", "55"})
#: positions 3-8: the registering office's division (GB/T 2260), kept as it was when the code was issued, so
#: only its province is checked; 100000 is a national registration
USCC_PROVINCES = frozenset({"10", "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35",
                            "36", "37", "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61",
                            "62", "63", "64", "65", "71", "81", "82"})


def uscc_prefixes() -> frozenset[str]:
    """Every valid (authority, type) pair as the code's first two characters."""
    return frozenset(a + t for a, (_, types) in USCC_AUTHORITIES.items() for t in types) | USCC_EXTRA_TYPES


def uscc_problem(value: str) -> str | None:
    """Why `value` cannot be a unified social credit code (format, authority, type, province), or None.
    The check character is not judged here (`is_valid_uscc`): early codes were issued without a valid one."""
    value = value.strip().upper()
    if not USCC_PATTERN.match(value):
        return "format"
    if value[0] not in USCC_AUTHORITIES:
        return f"registration authority {value[0]}"
    if value[:2] not in uscc_prefixes():
        return f"organisation type {value[1]} of authority {value[0]}"
    if value[2:4] not in USCC_PROVINCES:
        return f"division {value[2:8]}"
    return None


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
