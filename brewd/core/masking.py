"""Secrets inside connection strings: found and masked in every form the configuration accepts.

The forms: a URI's `user:password@` (PostgreSQL, Redis, the Claude base URL), a URI's
`?password=` (libpq and redis-py both take it), and libpq's key=value `password=...` (plain,
single-quoted, backslash-escaped; `sslpassword` too). Parsing is deliberately conservative: when
a string is malformed, more is masked, never less.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

MASK = "***"

# libpq key=value: an unquoted value runs to the next blank (\x escapes a character); a quoted
# one to the closing quote. Keywords are lowercase in libpq; `\b` keeps "xpassword" out.
_CONNINFO_SECRET = re.compile(
    r"""(\b(?:ssl)?password\s*=\s*)('(?:[^'\\]|\\.)*'?|(?:[^\s\\]|\\.)+)""", re.DOTALL
)
_QUERY_SECRET = re.compile(r"([?&](?:ssl)?password=)([^&#]*)", re.IGNORECASE)


def mask_secrets(text: str) -> str:
    """`text` with every password it holds replaced by ***."""
    if "://" not in text:
        return _CONNINFO_SECRET.sub(lambda m: m.group(1) + MASK, text)
    scheme, _, rest = text.partition("://")
    userinfo, at, tail = _split_userinfo(rest)
    if at and ":" in userinfo:
        userinfo = userinfo.split(":", 1)[0] + ":" + MASK
    return f"{scheme}://{userinfo}{at}" + _QUERY_SECRET.sub(lambda m: m.group(1) + MASK, tail)


def passwords_in(text: str) -> set[str]:
    """The passwords `text` holds, raw and percent-decoded (for masking log lines)."""
    found: set[str] = set()
    if "://" not in text:
        for match in _CONNINFO_SECRET.finditer(text):
            value = match.group(2)
            if value.startswith("'"):
                value = value[1:-1] if value.endswith("'") and len(value) > 1 else value[1:]
            found.add(re.sub(r"\\(.)", r"\1", value))
        return found
    userinfo, at, tail = _split_userinfo(text.partition("://")[2])
    if at and ":" in userinfo:
        found.add(userinfo.split(":", 1)[1])
    found.update(match.group(2) for match in _QUERY_SECRET.finditer(tail))
    return {v for raw in found if raw for v in (raw, unquote(raw))}


def _split_userinfo(rest: str) -> tuple[str, str, str]:
    """(userinfo, "@", the rest) of what follows `scheme://`; ("", "", rest) without userinfo.

    The last "@" is taken, so a password holding an unencoded "@" or "/" is masked whole; an
    "@" further on (in a query value) only makes more of the string masked.
    """
    userinfo, at, tail = rest.rpartition("@")
    if not at:
        return "", "", rest
    return userinfo, at, tail
