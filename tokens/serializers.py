"""Shapes of the API-key API (what the ``rokka`` client reads) and parsing of its inputs."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from credentials.models import ApiKey


class ApiKeySerializer(serializers.ModelSerializer):
    """``{id, created, accessed, comment}``: an API key as the ``rokka`` client lists it."""

    created = serializers.DateTimeField(source="created_at", read_only=True)
    accessed = serializers.DateTimeField(source="last_used_at", read_only=True, allow_null=True)  # null: never used

    class Meta:
        model = ApiKey
        fields = ["id", "created", "accessed", "comment"]


class NewApiKeySerializer(ApiKeySerializer):
    """A key just created: the only answer that ever holds the key itself."""

    api_key = serializers.SerializerMethodField()

    class Meta(ApiKeySerializer.Meta):
        fields = [*ApiKeySerializer.Meta.fields, "api_key"]

    def get_api_key(self, obj) -> str:
        return self.context["plaintext"]


class ApiKeyCreateSerializer(serializers.Serializer):
    # The rokka client sends {"comment": null} when no comment is given.
    comment = serializers.CharField(max_length=500, required=False, allow_blank=True, allow_null=True, default="")


@extend_schema_field(OpenApiTypes.STR)
class IpsField(serializers.Field):
    """The ``ips`` option: a comma list as the seed sends it, or (in a JSON body) a list of strings."""

    default_error_messages = {"invalid": "'ips' is a comma-separated list of IPs and networks."}

    def to_internal_value(self, data):
        if isinstance(data, str):
            return data
        if isinstance(data, list) and all(isinstance(item, str) for item in data):
            return ",".join(data)
        self.fail("invalid")

    def to_representation(self, value):
        return value


class TokenOptionsSerializer(serializers.Serializer):
    """Options of ``user/apikeys/token`` from the query string or a JSON body.

    Booleans as ``true``/``false`` or ``1``/``0`` (the rokka client sends ``true``/``false``).
    Options left out stay absent, so the minting rules can tell "not given" from "false".
    """

    expires_in = serializers.IntegerField(required=False)
    renewable = serializers.BooleanField(required=False)
    no_ip_protection = serializers.BooleanField(required=False)
    ips = IpsField(required=False)
