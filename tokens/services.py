"""Minting and renewing API tokens: the rules of the seed's "JWT Token" options, decided here only.

Options (all optional):

- ``expires_in``: lifetime in seconds, 1 to API_TOKEN_MAX_LIFETIME; default API_TOKEN_DEFAULT_LIFETIME.
- ``no_ip_protection``: mint a token usable from anywhere. Together with ``ips`` → 400.
- ``ips``: comma list of IPv4/IPv6 addresses and CIDR networks, ``request_ip`` for the caller's
  address; empty items ignored. Default (IP-protected): ``request_ip``. Limits: API_TOKEN_MAX_IP_VALUES
  values, API_TOKEN_MAX_IP_ADDRESSES addresses in total → 400 naming the limit.
- ``renewable``: default true when IP-protected, false otherwise.

Renewing with a token (``renewing`` = the payload of the token that authenticated the call):

- only if the token has ``rn``; the new ``expires_in`` may not exceed its ``expt``; the new IP rules may
  not allow any address the old ones did not (no widening). Each refusal is a 403.
- options left out are inherited from that token (``expires_in`` ← ``expt``, ``ips``, ``rn``), so a
  client that renews with no options (the ``rokka`` client's automatic refresh) gets the same token
  with a new expiry instead of a refusal.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from authplatform.client_ip import IPAddress
from authplatform.conf import platform_settings
from authplatform.errors import InvalidInput, NotPermitted
from credentials.audit import Actor, audit_record
from credentials.models import ApiKey
from tokens.api_tokens import api_token_encode
from tokens.ip_rules import REQUEST_IP, check_ips_within, ip_option_items, ip_rules_parse


@dataclass(frozen=True)
class MintedToken:
    token: str
    payload: dict[str, Any]


def _lifetime(expires_in: int | None, *, renewing: dict[str, Any] | None) -> int:
    if expires_in is None:
        expires_in = renewing["expt"] if renewing else platform_settings.API_TOKEN_DEFAULT_LIFETIME
    maximum = platform_settings.API_TOKEN_MAX_LIFETIME
    if not 1 <= expires_in <= maximum:
        raise InvalidInput("invalid_expires_in", f"'expires_in' must be between 1 and {maximum} seconds.")
    if renewing and expires_in > renewing["expt"]:
        raise NotPermitted(
            "renewal_exceeds_expt",
            f"A renewed token may live at most {renewing['expt']} seconds, the 'expt' of the token used to renew it.",
        )
    return expires_in


def _ip_rules(
    *,
    items: list[str] | None,
    no_ip_protection: bool | None,
    client_ip: IPAddress | None,
    renewing: dict[str, Any] | None,
) -> list[str]:
    if no_ip_protection and items:
        raise InvalidInput("conflicting_options", "Use either 'no_ip_protection' or 'ips', not both.")
    if renewing and not items and no_ip_protection is None:
        return list(renewing["ips"])
    if no_ip_protection:
        return []
    return ip_rules_parse(  # InvalidInput saying what to fix
        items or [REQUEST_IP],
        request_ip=client_ip,
        max_values=platform_settings.API_TOKEN_MAX_IP_VALUES,
        max_addresses=platform_settings.API_TOKEN_MAX_IP_ADDRESSES,
    )


def api_token_mint(
    *,
    actor: Actor,
    api_key: ApiKey,
    client_ip: IPAddress | None,
    expires_in: int | None = None,
    renewable: bool | None = None,
    no_ip_protection: bool | None = None,
    ips: str | Iterable[str] | None = None,
    renewing: dict[str, Any] | None = None,
    now=None,
) -> MintedToken:
    """A new API token for ``api_key`` with the options above; ``renewing`` when a token asked for it.

    Raises InvalidInput for bad options, NotPermitted when a renewal may not be granted. The issue is audited
    (never the token itself).
    """
    if renewing is not None and not renewing.get("rn"):
        raise NotPermitted("token_not_renewable", "This token is not renewable; get a new one with your API key.")
    lifetime = _lifetime(expires_in, renewing=renewing)
    rules = _ip_rules(
        items=ip_option_items(ips) or None, no_ip_protection=no_ip_protection, client_ip=client_ip, renewing=renewing
    )
    if renewing is not None and not check_ips_within(rules, renewing["ips"]):
        raise NotPermitted(
            "renewal_widens_ips", "A renewed token may not allow addresses that the token used to renew it does not."
        )
    if renewable is None:
        renewable = bool(renewing["rn"]) if renewing is not None else bool(rules)
    now = now or timezone.now()
    payload = {
        "id": str(api_key.pk),
        "exp": int(now.timestamp()) + lifetime,
        "expt": lifetime,
        "ips": rules,
        "rn": bool(renewable),
    }
    token = api_token_encode(payload=payload)
    audit_record(
        actor=actor,
        action="api_token.renew" if renewing is not None else "api_token.issue",
        target=api_key,
        details={"exp": payload["exp"], "ips": rules, "rn": payload["rn"]},
    )
    return MintedToken(token=token, payload=payload)
