"""Decoding request bodies as JSON without recursing on untrusted input.

orjson parses iteratively and refuses nesting beyond 1024 levels with a JSONDecodeError, so the
fast path is safe. The stdlib fallback (kept so a NaN or Infinity literal reaches validation,
which names the feature holding it) recurses once per level and would raise RecursionError on
a body of a few thousand ``[``: a 500, and uvicorn then drops the keep-alive connection. So the
fallback runs only after a linear scan has shown the body is nested no deeper than
``MAX_JSON_DEPTH``.
"""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np
import orjson

from serving.validation import InputError

# Every request format nests at most 4 levels ({"dataframe_split": {"data": [[...]]}}); the
# margin keeps the stdlib fallback far below the interpreter's recursion limit.
MAX_JSON_DEPTH = 64

# A complete string, or an unterminated one running to the end of the body (everything after an
# unmatched quote is string content to a parser). Possessive, so matching is linear.
_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*+(?:"|\Z)', re.DOTALL)
# Byte -> nesting step as int8: +1 for an opening bracket, -1 (0xFF) for a closing one.
_STEPS = bytes(1 if byte in b"[{" else 0xFF if byte in b"]}" else 0 for byte in range(256))


def nesting_depth(body: bytes) -> int:
    """The deepest bracket nesting of ``body``, brackets inside strings not counted.

    No recursion and no per-byte Python loop: strings are cut out by one regex pass, and the
    depth is the running sum of the remaining brackets' steps.
    """
    steps = np.frombuffer(_STRINGS.sub(b"", body).translate(_STEPS), dtype=np.int8)
    return max(int(np.cumsum(steps, dtype=np.int64).max()), 0) if steps.size else 0


def parse_json(body: bytes) -> Any:
    """Decode a JSON body; malformed or too deeply nested JSON is a 400 saying what is wrong."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as fast_error:
        opened = body.count(b"[") + body.count(b"{")  # an upper bound of the depth, cheap
        if opened > MAX_JSON_DEPTH and nesting_depth(body) > MAX_JSON_DEPTH:
            raise InputError(
                400,
                f"malformed JSON body: nested more than {MAX_JSON_DEPTH} levels deep "
                "(a request needs at most 4)",
                "body",
            ) from None
        # The strict fast parser refuses NaN/Infinity literals; the lenient stdlib parser
        # accepts them so validation can name the feature that holds one. Its recursion is
        # bounded by the depth check above.
        try:
            return json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise InputError(400, f"malformed JSON body: {fast_error}", "body") from None
