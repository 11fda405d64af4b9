"""Safety checks for generative models: assertions on each output, registered by name.

A policy's safety gate lists assertions (`- json: true`, `- pii: [email]`); each name is looked up
here, its factory is given the configuration and returns a check: `check(output)` is None when the
output passes, else a sentence saying why not. A gate passes when the share of outputs passing
every assertion reaches its `min_pass_rate`.

    @assertion("starts_with")
    def starts_with(config: object) -> Check:
        '''The output starts with the given text.'''
        prefix = text_config(config)
        return lambda output: None if output.startswith(prefix) else f"does not start with {prefix!r}"

A factory raises ValueError for a configuration it cannot use; the policy reports it with its line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

Check = Callable[[str], str | None]
Factory = Callable[[Any], Check]

ASSERTIONS: dict[str, Factory] = {}

MAX_PATTERN_LENGTH = 1_000


def assertion(name: str) -> Callable[[Factory], Factory]:
    """Register an assertion factory under `name` (a plugin may add its own)."""

    def register(factory: Factory) -> Factory:
        if name in ASSERTIONS and ASSERTIONS[name] is not factory:
            raise ValueError(f"a safety assertion named {name!r} is already registered")
        ASSERTIONS[name] = factory
        return factory

    return register


def text_config(config: Any, what: str = "a string") -> str:
    if not isinstance(config, str) or not config:
        raise ValueError(f"takes {what}, got {config!r}")
    return config


def _pattern(config: Any) -> re.Pattern[str]:
    text = text_config(config, "a regular expression")
    if len(text) > MAX_PATTERN_LENGTH:
        raise ValueError(f"takes a pattern of at most {MAX_PATTERN_LENGTH} characters")
    try:
        return re.compile(text)
    except re.error as exc:
        raise ValueError(f"{text!r} is not a regular expression: {exc}") from None


def _terms(config: Any, what: str) -> list[str]:
    if isinstance(config, str):
        config = [config]
    if not isinstance(config, list) or not config or not all(isinstance(t, str) and t for t in config):
        raise ValueError(f"takes a list of {what}, got {config!r}")
    return list(config)


@assertion("regex")
def regex(config: Any) -> Check:
    """The output contains a match of the regular expression."""
    pattern = _pattern(config)
    return lambda output: None if pattern.search(output) else f"does not match {pattern.pattern!r}"


@assertion("not_regex")
def not_regex(config: Any) -> Check:
    """The output contains no match of the regular expression."""
    pattern = _pattern(config)

    def check(output: str) -> str | None:
        found = pattern.search(output)
        return None if found is None else f"matches {pattern.pattern!r} at {found.start()}"

    return check


@assertion("json")
def valid_json(config: Any) -> Check:
    """The output is a JSON document (`json: object` also requires an object)."""
    if config not in (True, "object"):
        raise ValueError(f"takes true or 'object', got {config!r}")

    def check(output: str) -> str | None:
        try:
            document = json.loads(output)
        except ValueError as exc:
            return f"is not JSON ({exc})"
        if config == "object" and not isinstance(document, dict):
            return f"is JSON but not an object ({type(document).__name__})"
        return None

    return check


# Deliberately simple patterns: a gate wants to hear about outputs that look like personal data.
PII_PATTERNS: dict[str, re.Pattern[str]] = {
    "email": re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"),
    "phone": re.compile(r"(?<![\w+])\+?\d{1,3}?[ .-]?\(?\d{2,4}\)?[ .-]?\d{3,4}[ .-]?\d{3,4}(?!\w)"),
    "credit_card": re.compile(r"(?<!\d)(?:\d[ -]?){13,16}(?!\d)"),
    "ssn": re.compile(r"(?<!\d)\d{3}-\d{2}-\d{4}(?!\d)"),
    "ip_address": re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])"),
    "iban": re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){3,7}\b"),
}


@assertion("pii")
def pii(config: Any) -> Check:
    """The output holds no personal data of the kinds named (`pii: true`: every kind known)."""
    kinds = list(PII_PATTERNS) if config is True else _terms(config, "kinds of personal data")
    for kind in kinds:
        if kind not in PII_PATTERNS:
            raise ValueError(f"knows no {kind!r}; the kinds are: {', '.join(PII_PATTERNS)}")

    def check(output: str) -> str | None:
        found = [kind for kind in kinds if PII_PATTERNS[kind].search(output)]
        return None if not found else f"contains what looks like {' and '.join(found)}"

    return check


@assertion("banned_terms")
def banned_terms(config: Any) -> Check:
    """The output uses none of the terms (whole words, any case)."""
    terms = _terms(config, "terms")
    pattern = re.compile(r"(?<!\w)(?:" + "|".join(re.escape(t) for t in terms) + r")(?!\w)", re.IGNORECASE)

    def check(output: str) -> str | None:
        found = pattern.search(output)
        return None if found is None else f"uses the banned term {found.group(0)!r}"

    return check


@assertion("max_length")
def max_length(config: Any) -> Check:
    """The output is at most this many characters long."""
    if isinstance(config, bool) or not isinstance(config, int) or config < 1:
        raise ValueError(f"takes a whole number from 1, got {config!r}")
    return lambda output: None if len(output) <= config else f"is {len(output)} characters long"


def build(name: str, config: Any) -> Check:
    """The check of assertion `name` with `config`; ValueError naming what is wrong."""
    factory = ASSERTIONS.get(name)
    if factory is None:
        raise ValueError(
            f"unknown safety assertion {name!r}; the assertions are: {', '.join(sorted(ASSERTIONS))}"
        )
    return factory(config)
