"""Errors and parameter coercion shared by the CKAN-compatible actions.

CKAN clients send the same parameter three ways: as JSON values in a POST body (``ckanapi``), as form
fields, or as query-string text over GET (``rows=10``, ``filters={"a":1}``, ``fields=a,b`` or repeated
``fields=a&fields=b``). The helpers here accept all three so each action reads typed values, and they
fail the way CKAN does (a Validation Error naming the parameter), so clients' error handling carries over.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from jobs.errors import CitylakeError

#: CKAN's string spellings of true for boolean parameters (anything else is false, as in CKAN).
TRUE_WORDS = frozenset({"true", "t", "yes", "y", "1", "on"})


class ActionError(CitylakeError):
    """An action refused its input; rendered as CKAN's ``success: false`` envelope."""

    status = 500
    error_type = "Internal Server Error"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def error(self) -> dict[str, Any]:
        """The ``error`` object of the envelope."""
        return {"__type": self.error_type, "message": self.message}


class NotFound(ActionError):
    """Nothing has the id a caller asked for (HTTP 404, ``Not Found Error``)."""

    status = 404
    error_type = "Not Found Error"

    def error(self) -> dict[str, Any]:
        # CKAN prefixes "Not found: "; ckanapi strips everything up to the first ": ".
        return {"__type": self.error_type, "message": f"Not found: {self.message}"}


class ValidationError(ActionError):
    """A parameter is missing or malformed (HTTP 409, ``Validation Error``).

    CKAN reports ``{<parameter>: [<messages>]}`` next to ``__type``; the ``message`` summary is extra.
    """

    status = 409
    error_type = "Validation Error"

    def __init__(self, errors: Mapping[str, list[str]]):
        self.errors = {k: list(v) for k, v in errors.items()}
        super().__init__("; ".join(f"{k}: {', '.join(v)}" for k, v in self.errors.items()))

    def error(self) -> dict[str, Any]:
        return {"__type": self.error_type, "message": self.message, **self.errors}


class SearchQueryError(ActionError):
    """package_search's parameters are unknown or ``q``/``fq``/``sort`` cannot be parsed (HTTP 400, as CKAN
    answers a ``Search Query Error``)."""

    status = 400
    error_type = "Search Query Error"

    def error(self) -> dict[str, Any]:
        return {"__type": self.error_type, "message": f"Search Query is invalid: {self.message!r}"}


class DataUnavailable(ActionError):
    """A listed dataset's table cannot be read (HTTP 500): a server-side fault, logged."""


def invalid(name: str, message: str) -> ValidationError:
    return ValidationError({name: [message]})


def require(params: Mapping[str, Any], name: str) -> str:
    """A required string parameter (CKAN: ``Missing value``)."""
    value = params.get(name)
    if isinstance(value, list):
        value = value[0] if value else None
    if value is None or str(value).strip() == "":
        raise invalid(name, "Missing value")
    return str(value).strip()


#: the longest text parameter an action reads (a query, a sort, a name): longer is refused, not searched
MAX_TEXT = 4000


def text(params: Mapping[str, Any], name: str, default: str = "") -> str:
    value = params.get(name)
    if isinstance(value, list):
        value = value[-1] if value else None
    if value is None:
        return default
    out = str(value)
    if len(out) > MAX_TEXT:
        raise invalid(name, f"Longer than {MAX_TEXT} characters")
    return out


def integer(params: Mapping[str, Any], name: str, default: int, *, maximum: int | None = None) -> int:
    """A natural number; above `maximum` it is capped silently, as CKAN caps rows/limit."""
    value = params.get(name)
    if isinstance(value, list):
        value = value[-1] if value else None
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        raise invalid(name, "Invalid integer")
    try:
        number = int(value) if isinstance(value, int) else int(str(value).strip())
    except ValueError:
        raise invalid(name, "Invalid integer") from None
    if number < 0:
        raise invalid(name, "Must be a natural number")
    return min(number, maximum) if maximum is not None else number


def boolean(params: Mapping[str, Any], name: str, default: bool) -> bool:
    value = params.get(name)
    if isinstance(value, list):
        value = value[-1] if value else None
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in TRUE_WORDS


def json_value(params: Mapping[str, Any], name: str) -> Any:
    """A dict/list parameter, given natively (JSON body) or as JSON text (GET, form)."""
    value = params.get(name)
    if isinstance(value, str):
        stripped = value.strip()
        if stripped[:1] in ("{", "["):
            try:
                return json.loads(stripped)
            except ValueError:
                raise invalid(name, "Could not parse as valid JSON") from None
    return value


def string_list(params: Mapping[str, Any], name: str) -> list[str] | None:
    """A list of names: a JSON list, a comma-separated string, or repeated query parameters."""
    value = json_value(params, name)
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        items: list[str] = []
        for v in value:  # repeated GET parameters may each be comma-separated too
            items.extend(part.strip() for part in v.split(",") if part.strip())
        return items
    raise invalid(name, "Must be a list of strings or a comma-separated string")
