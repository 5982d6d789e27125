"""Canary persons: made-up people the sample generator plants in the personal fields of exports.

Their raw values are valid (a resident ID with its check digit, a real-looking mobile, a card number
passing Luhn), so they pass validation and reach silver like anyone's data; the publish step's PII gate
then looks for these exact strings in everything published. A canary value found outside the lake means
de-identification failed, whatever the patterns say. Nobody real has these values: the ID's birth date
is 1 January 1900 and the names are not in the generator's name pool.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from jobs.rules.identifiers import MOBILE_PATTERN, is_valid_resident_id_checksum, resident_id_check_char

#: every this many rows, one row (the 7th, 7 + EVERY, ...) carries a canary
EVERY = 97
FIRST = 7


def _resident_id(first17: str) -> str:
    return first17 + resident_id_check_char(first17)


def _card(first: str) -> str:
    """`first` plus its Luhn check digit."""
    total = 0
    for i, ch in enumerate(reversed(first)):
        n = int(ch) * (1 if i % 2 else 2)
        total += n - 9 if n > 9 else n
    return first + str((10 - total % 10) % 10)


@dataclass(frozen=True)
class Canary:
    name: str
    resident_id: str
    phone: str
    email: str
    bank_card: str

    def value(self, pii: str) -> str | None:
        """The canary's value for a field of PII class `pii`, or None when it has none."""
        return {"name": self.name, "resident_id": self.resident_id, "phone": self.phone}.get(pii)


CANARIES: tuple[Canary, ...] = (
    Canary("金丝雀甲", _resident_id("51010419000101001"), "13900000019",
           "canary.jia@example.org", _card("622202000000000000")),
    Canary("金丝雀乙", _resident_id("51010719000101002"), "15900000027",
           "canary.yi@example.org", _card("622202000000000001")),
)


def canary_for(row_number: int) -> Canary | None:
    """The canary planted in row `row_number` (1-based), if any."""
    if row_number >= FIRST and (row_number - FIRST) % EVERY == 0:
        return CANARIES[((row_number - FIRST) // EVERY) % len(CANARIES)]
    return None


def canary_values() -> tuple[str, ...]:
    """Every raw canary value the PII gate must never find in published data."""
    return tuple(v for c in CANARIES for v in (c.name, c.resident_id, c.phone, c.email, c.bank_card))


def _is_personal(pii: str, current: object) -> bool:
    """True when the generated value really is a person's (a field may hold a company's code or name)."""
    text = str(current)
    if pii == "resident_id":
        return is_valid_resident_id_checksum(text)
    if pii == "name":
        return len(text) <= 4
    if pii == "phone":
        return MOBILE_PATTERN.match(text) is not None
    return True


def plant(row: dict, pii_of: Mapping[str, str], row_number: int) -> None:
    """Replace the personal fields of `row` by the canary of `row_number`, when there is one."""
    canary = canary_for(row_number)
    if canary is None:
        return
    for name, pii in pii_of.items():
        value = canary.value(pii)
        if value is not None and row.get(name) is not None and _is_personal(pii, row[name]):
            row[name] = value
