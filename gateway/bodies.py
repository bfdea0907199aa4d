"""Decoding a body a client sent: the one place where every way it can fail to be JSON is caught.

msgspec signals a bad body in more ways than ``DecodeError``: nesting deeper than the
interpreter's recursion limit raises ``RecursionError``, and invalid UTF-8 inside a string it
materialises raises ``UnicodeDecodeError`` (a ``ValueError``). Uncaught, either is a 500. Worse,
msgspec does not look inside the fields it skips, so a body whose prompt is not UTF-8 decodes
"fine" and would be forwarded as is: the body is therefore checked whole, first.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import msgspec

from .errors import BadRequest, GatewayError

T = TypeVar("T")
INVALID_JSON = "invalid_json"


class IncompleteBody(BadRequest):
    """The body ended before its framing said it would: a broken chunked encoding, fewer bytes
    than ``content-length``, or a client that stopped sending. The ASGI server reports all three
    the same way (``http.disconnect``), so they get one answer; granian still delivers it when
    the connection is open (a framing error), and it goes nowhere when the client has left."""

    code = "incomplete_body"

    def __init__(self) -> None:
        super().__init__("the request body ended before its content-length or chunked encoding said it would")


Malformed = Callable[[str], GatewayError]
"""The error for a body that is not JSON at all, given why: ``"not valid UTF-8 (byte 12)"``."""
Invalid = Callable[[msgspec.ValidationError], GatewayError]
"""The error for JSON of the wrong shape (each caller has its own code: a job, a request, ...)."""


def invalid_json(what: str = "the request body") -> Malformed:
    """400 ``invalid_json``: ``"<what> is <why>"``."""

    def make(why: str) -> GatewayError:
        return BadRequest(f"{what} is {why}", code=INVALID_JSON)

    return make


def utf8_problem(body: bytes) -> str | None:
    """Why ``body`` is not UTF-8, or None when it is.

    ``isascii()`` scans at memory speed and settles the common case (~40 µs per MiB) without
    building anything; only a body with non-ASCII bytes pays for a full decode (~0.7 ms per MiB).
    """
    if body.isascii():
        return None
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"not valid UTF-8 (byte {exc.start}: {exc.reason})"
    return None


def decode_json(
    body: bytes, decode: Callable[[bytes], T], invalid: Invalid, malformed: Malformed | None = None
) -> T:
    """``decode(body)``, or the caller's error: ``invalid`` for a wrong shape, ``malformed`` (400
    ``invalid_json`` by default) for a body that is not UTF-8, not JSON, or nested too deeply."""
    why = utf8_problem(body)
    if why is None:
        try:
            return decode(body)
        except msgspec.ValidationError as exc:  # a subclass of DecodeError: caught first
            raise invalid(exc) from None
        except msgspec.DecodeError as exc:
            why = f"not valid JSON: {exc}"
        except RecursionError:
            why = "not valid JSON: it is nested too deeply to read"
        except ValueError as exc:  # anything else msgspec finds wrong with the bytes themselves
            why = f"not valid JSON: {exc}"
    raise (malformed or _REQUEST_BODY)(why) from None


_REQUEST_BODY = invalid_json()
