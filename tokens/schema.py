"""OpenAPI (drf-spectacular) descriptions of the four authentication schemes, for every view that uses them.

Imported by TokensConfig.ready(); drf-spectacular finds extensions by subclassing.
"""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ClientCredentialsScheme(OpenApiAuthenticationExtension):
    target_class = "tokens.authentication.ClientCredentialsAuthentication"
    name = ["clientKey", "clientSecret"]
    priority = 1

    def get_security_definition(self, auto_schema):
        return [
            {"type": "apiKey", "in": "header", "name": "x-client-key"},
            {"type": "apiKey", "in": "header", "name": "x-client-secret"},
        ]

    def get_security_requirement(self, auto_schema):
        return {"clientKey": [], "clientSecret": []}


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "tokens.authentication.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Api-Key",
            "description": "An API user's key; optional header Api-Version: 1. Refused with 403.",
        }


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = "tokens.authentication.ApiTokenAuthentication"
    name = "apiToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "An API token from GET /api/v1/user/apikeys/token.",
        }


class CustomerJWTScheme(OpenApiAuthenticationExtension):
    target_class = "tokens.authentication.CustomerJWTAuthentication"
    name = "customerJWT"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "A customer JWT signed RS256 by the customer's backend; kid = signing key id.",
        }
