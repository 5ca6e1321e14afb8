"""API-wide DRF plumbing: how every request body is read."""

import math

from rest_framework.exceptions import ParseError
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import JSONParser as DRFJSONParser


def _unstorable(value) -> str | None:
    """Why a parsed JSON value cannot be stored as JSON text, or None when it can."""
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            try:
                node.encode("utf-8")
            except UnicodeEncodeError:
                return "a string escape is not valid Unicode (lone surrogate)"
        elif isinstance(node, float) and not math.isfinite(node):
            return "a number is out of range"  # 1e400 parses as inf, which JSON cannot hold
        elif isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return None


class JSONParser(DRFJSONParser):
    """JSON that can be stored: refuses nesting deep enough to exhaust the parser's recursion (which
    DRF lets through as a 500), ``\\ud800``-style escapes that are not valid Unicode and numbers too
    large for a float (which no database column takes). Each is a 400 with the error body."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply.") from None
        problem = _unstorable(data)
        if problem:
            raise ParseError(f"JSON parse error - {problem}.")
        return data


class JSONBodyNegotiation(DefaultContentNegotiation):
    """Every request body is read as JSON, whatever its Content-Type says.

    The ``rokka`` npm client sends JSON bodies with no Content-Type at all; refusing them with 415
    would break it, and this API speaks nothing but JSON anyway.
    """

    def select_parser(self, request, parsers):
        return super().select_parser(request, parsers) or JSONParser()
