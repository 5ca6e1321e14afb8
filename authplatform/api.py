"""API-wide DRF plumbing: how every request body is read."""

from rest_framework.exceptions import ParseError
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import JSONParser as DRFJSONParser


def _has_lone_surrogate(value) -> bool:
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            try:
                node.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return False


class JSONParser(DRFJSONParser):
    """JSON that can be stored: refuses nesting deep enough to exhaust the parser's recursion (which
    DRF lets through as a 500) and ``\\ud800``-style escapes that are not valid Unicode (which no
    database column takes). Both are a 400 with the error body."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply.") from None
        if _has_lone_surrogate(data):
            raise ParseError("JSON parse error - a string escape is not valid Unicode (lone surrogate).")
        return data


class JSONBodyNegotiation(DefaultContentNegotiation):
    """Every request body is read as JSON, whatever its Content-Type says.

    The ``rokka`` npm client sends JSON bodies with no Content-Type at all; refusing them with 415
    would break it, and this API speaks nothing but JSON anyway.
    """

    def select_parser(self, request, parsers):
        return super().select_parser(request, parsers) or JSONParser()
