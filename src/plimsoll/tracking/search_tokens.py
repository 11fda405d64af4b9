"""The search language's tokenizer: text to tokens, each with its position for error messages."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal, NoReturn

from plimsoll.core.errors import InvalidParameter

Scalar = str | int | float
KEYWORDS = frozenset({"AND", "OR", "NOT", "IN", "LIKE", "ILIKE", "IS", "NULL", "ASC", "DESC"})
_MAX_INT = 2**63 - 1


TokenKind = Literal["ident", "keyword", "string", "number", "op", "punct", "quoted", "end"]


@dataclass(frozen=True)
class Token:
    kind: TokenKind
    text: str  # the source text of the token
    position: int  # 0-based offset
    value: Scalar | None = None  # strings unescaped, numbers parsed
    key: str | None = None  # for an ident ending in a quoted key: params.`a b` -> key "a b"


_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*")
# ASCII digits only: `\d` and `int()` also read '٣' (and `str.isdigit` says yes to '²').
_NUMBER = re.compile(
    r"[-+]?(?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?|(?i:infinity))(?![A-Za-z0-9_.])"
)
_OPERATOR = re.compile(r"<=|>=|<>|!=|=|<|>")
_QUOTES = {"'": "string", "`": "quoted", '"': "quoted"}


class ErrorAt:
    """Builds the one message shape: `<what>: at position N near '<text>'; expected <...>`."""

    def __init__(self, field: str, text: str) -> None:
        self.field = field
        self.text = text

    def __call__(
        self, what: str, position: int, expected: str | None = None, near: str | None = None
    ) -> NoReturn:
        if near is None:
            near = _snippet(self.text, position)
        where = (
            f"at position {position + 1} (end of {self.field})"
            if position >= len(self.text)
            else (f"at position {position + 1} near {near!r}")
        )
        message = f"{what}: {where}"
        if expected:
            message += f"; expected {expected}"
        raise InvalidParameter(self.field, message, details={"position": position + 1})


def _snippet(text: str, position: int) -> str:
    rest = text[position:]
    match = re.match(r"\S+", rest)
    word = match.group(0) if match else rest[:1]
    return word if len(word) <= 24 else word[:21] + "..."


def _read_quoted(text: str, start: int, error: ErrorAt) -> tuple[str, int]:
    """Read a quoted run starting at `start` (the quote); a doubled quote is one quote character."""
    quote = text[start]
    parts: list[str] = []
    i = start + 1
    while True:
        end = text.find(quote, i)
        if end < 0:
            kind = "string" if quote == "'" else "quoted key"
            error(f"unterminated {kind}", start, f"a closing {quote}")
        parts.append(text[i:end])
        if text.startswith(quote * 2, end):
            parts.append(quote)
            i = end + 2
            continue
        return "".join(parts), end + 1


def tokenize(text: str, field: str = "filter") -> list[Token]:
    error = ErrorAt(field, text)
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char.isspace():
            i += 1
            continue
        if char in _QUOTES:
            value, end = _read_quoted(text, i, error)
            kind: TokenKind = "string" if char == "'" else "quoted"
            tokens.append(Token(kind, text[i:end], i, value=value))
            i = end
            continue
        if char in "+-.0123456789":
            number = _NUMBER.match(text, i)
            if number is None:
                error("malformed number", i, "digits, an optional fraction and exponent, e.g. 0.5 or -1e-3")
            tokens.append(_number_token(number.group(0), i, error))
            i = number.end()
            continue
        ident = _IDENT.match(text, i)
        if ident:
            end = ident.end()
            key = None
            if text.startswith((".`", '."'), end):
                key, end = _read_quoted(text, end + 1, error)
            elif end < n and (text[end] in "._-+/:@" or text[end].isalnum()):
                what = (
                    "empty key part" if text[end] == "." else f"unexpected character {text[end]!r} in a key"
                )
                error(what, end, "a plain key; quote other keys in backticks, e.g. metrics.`val-loss`")
            word = text[i : ident.end()]
            if key is None and word.upper() in ("NAN", "INFINITY"):
                tokens.append(_number_token(word, i, error))
            else:
                is_keyword = key is None and word.upper() in KEYWORDS
                tokens.append(Token("keyword" if is_keyword else "ident", word, i, key=key))
            i = end
            continue
        operator = _OPERATOR.match(text, i)
        if operator:
            tokens.append(Token("op", operator.group(0), i))
            i = operator.end()
            continue
        if char in "(),":
            tokens.append(Token("punct", char, i))
            i += 1
            continue
        if char == "\x00":
            error("the NUL character is not allowed", i, near="\\x00")
        error(f"unexpected character {char!r}", i, "a key, an operator, a value, '(', ')' or ','")
    tokens.append(Token("end", "", n))
    return tokens


def _number_token(text: str, position: int, error: ErrorAt) -> Token:
    body = text.lstrip("+-")
    negative = text.startswith("-")
    value: int | float
    if body.lower() in {"nan", "infinity"}:
        if body.lower() == "nan" and text[0] in "+-":
            error("NaN takes no sign", position, "NaN")
        value = math.nan if body.lower() == "nan" else (-math.inf if negative else math.inf)
    elif re.fullmatch(r"[-+]?[0-9]+", text):
        # Past 4,300 digits `int()` itself raises; nothing past 19 fits anyway.
        value = int(text) if len(body) <= 19 else _MAX_INT + 1
        if abs(value) > _MAX_INT:
            error("number out of range", position, f"an integer of magnitude at most {_MAX_INT}")
    else:
        value = float(text)
        if math.isinf(value):
            error("number out of range", position, "a finite number (use Infinity for metrics)")
    return Token("number", text, position, value=value)
