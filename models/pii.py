"""PII hashing for destinations that ask for it (ad platforms' customer-match rules).

A value is normalised, then hashed with SHA-256 and written as 64 lower-case hex
digits. Normalisation by kind:

- ``email``: surrounding whitespace removed, lower-cased (`` Ann@X.com `` → ``ann@x.com``);
- ``phone``: digits only, in E.164 form without the ``+``: ``+49 (30) 1234-567`` →
  ``49301234567``; a leading ``00`` international prefix is dropped; a national
  number (leading ``0``) gets ``phone_country_code`` (e.g. ``"49"``) in place of
  the trunk ``0`` when the destination sets one;
- anything else: whitespace trimmed and lower-cased.

Nulls and empty values stay null (hashing them would make every empty value one
shared identifier).
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

_NON_DIGITS = re.compile(r"\D")


def pii_kind(column: str, declared: str | None = None) -> str:
    """``email`` / ``phone`` / ``other`` from a declared kind or the column's name."""
    if declared:
        return declared
    low = column.lower()
    if "email" in low or "e_mail" in low:
        return "email"
    if "phone" in low or "mobile" in low:
        return "phone"
    return "other"


def normalize(value: Any, kind: str, country_code: str | None = None) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    if kind == "phone":
        digits = _NON_DIGITS.sub("", text)
        if text.startswith("+"):
            return digits or None
        if digits.startswith("00"):
            return digits[2:] or None
        if country_code and digits.startswith("0"):
            return _NON_DIGITS.sub("", country_code) + digits.lstrip("0")
        return digits or None
    return text.lower()


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def hash_value(value: Any, kind: str, country_code: str | None = None) -> str | None:
    norm = normalize(value, kind, country_code)
    return None if norm is None else sha256_hex(norm)


def hash_column(values: list[Any], kind: str, country_code: str | None = None) -> list[str | None]:
    return [hash_value(v, kind, country_code) for v in values]
