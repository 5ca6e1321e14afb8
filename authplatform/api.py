"""API-wide DRF plumbing."""

from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import JSONParser


class JSONBodyNegotiation(DefaultContentNegotiation):
    """Every request body is read as JSON, whatever its Content-Type says.

    The ``rokka`` npm client sends JSON bodies with no Content-Type at all; refusing them with 415
    would break it, and this API speaks nothing but JSON anyway.
    """

    def select_parser(self, request, parsers):
        return super().select_parser(request, parsers) or JSONParser()
