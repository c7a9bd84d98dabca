"""HubSpot number values, read from their text: the bounds a CRM amount or count keeps, and the
one parser (`parse_decimal`) the routes, the analytics and the mirror's amount columns share.

Pure, and below every layer: `service.mapping` checks input with it, `storage.mirror` derives
its summable amount columns with it, so a mirror total and a live total read the same numbers.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

# Numbers are checked on their text, before anything is expanded: "1e999999999" is a short
# string whose plain form has a billion digits. HubSpot number properties take plain decimal
# text (digits, one optional "-", one optional "."):
# https://developers.hubspot.com/changelog/upcoming-api-number-value-changes
# The bounds below hold any amount or count a CRM keeps; a value outside them is refused
# with the limit named, never expanded.
MAX_NUMBER_CHARS = 64
MAX_INTEGER_DIGITS = 18
MAX_FRACTION_DIGITS = 10
NUMBER_LIMIT = (
    f"at most {MAX_INTEGER_DIGITS} digits before the decimal point and {MAX_FRACTION_DIGITS} after"
)
_NUMBER_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,9})?")


def number_problem(value: Any) -> str | None:
    """What is wrong with `value` as a HubSpot number (None: nothing), from its text alone."""
    if isinstance(value, Decimal):
        if not value.is_finite():
            return "not a finite number"
        d = value
    else:
        s = str(value).strip()
        if len(s) > MAX_NUMBER_CHARS:
            return f"a number of more than {MAX_NUMBER_CHARS} characters; {NUMBER_LIMIT}"
        if not _NUMBER_TEXT.fullmatch(s):
            return "not a decimal number, e.g. 1250.50"
        d = Decimal(s)  # bounded text, exponent of at most 9 digits: never expanded here
    sign_digits_exp = d.as_tuple()
    digits, exponent = sign_digits_exp.digits, int(sign_digits_exp.exponent)
    if any(digits) and d.adjusted() >= MAX_INTEGER_DIGITS:
        return f"too large: {NUMBER_LIMIT}"
    trailing = len(digits) - len("".join(map(str, digits)).rstrip("0")) if any(digits) else 0
    if -(exponent + trailing) > MAX_FRACTION_DIGITS:
        return f"too many decimals: {NUMBER_LIMIT}"
    return None


def parse_decimal(value: object) -> Decimal | None:
    """A number within the bounds above (see `number_problem` for why not), else None."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    if number_problem(value) is not None:
        return None
    return value if isinstance(value, Decimal) else Decimal(str(value).strip())
