"""Row 2: credential verification in process, no HTTP: ``python -m bench.verify CONFIG.json``.

Each case calls one DRF authentication class's ``authenticate()`` on a prebuilt request (what a view
does per request, minus HTTP and routing), against the bench database. Next to them, the raw
primitive each kind rests on, as the floor: HMAC-SHA256 of a presented secret, and one RS256 verify.
Prints one JSON object: for each case the µs per call of each repeat.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import sys
import time

import django


def calibrate(fn, target_s: float) -> int:
    """Loops of ``fn`` that take about ``target_s`` seconds."""
    loops, elapsed = 1, 0.0
    while elapsed < target_s / 5:
        loops *= 2
        started = time.perf_counter()
        for _ in range(loops):
            fn()
        elapsed = time.perf_counter() - started
    return max(1, int(loops * target_s / elapsed))


def timed(fn, loops: int) -> float:
    """µs per call over ``loops`` calls."""
    started = time.perf_counter()
    for _ in range(loops):
        fn()
    return (time.perf_counter() - started) / loops * 1e6


def main(cfg: dict) -> dict:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    django.setup()

    import jwt
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding
    from django.conf import settings
    from django.test import RequestFactory
    from rest_framework.request import Request

    from tokens import authentication as ours

    seed = cfg["seed"]
    factory = RequestFactory()

    def request(**headers) -> Request:
        return Request(factory.get("/bench", REMOTE_ADDR="127.0.0.1", **headers))

    def caller(auth, req, *, hit: bool):
        def call():
            try:
                result = auth.authenticate(req)
            except Exception:
                return False
            return result is not None

        ok = call()
        if ok != hit:
            raise AssertionError(f"{type(auth).__name__}: expected {'a hit' if hit else 'a miss'}, got the opposite")
        return call

    cases: dict[str, tuple] = {}  # name -> (floor name, callable) or (None, reason for n/a)

    # floors
    pepper = settings.AUTHPLATFORM["PEPPER"].encode()
    secret = seed["client_secret"].encode()
    cases["floor_hmac_sha256"] = ("", lambda: hmac.new(pepper, secret, hashlib.sha256).digest())
    token = seed["customer_tokens"][0]
    signing_input, _, sig_b64 = token.rpartition(".")
    signature = jwt.utils.base64url_decode(sig_b64)
    public_key = serialization.load_pem_public_key(seed["public_key_pem"].encode())
    cases["floor_rs256_verify"] = (
        "",
        lambda: public_key.verify(signature, signing_input.encode(), padding.PKCS1v15(), hashes.SHA256()),
    )

    client = ours.ClientCredentialsAuthentication()
    ck, cs = seed["client_key"], seed["client_secret"]
    cases["client_hit"] = (
        "floor_hmac_sha256",
        caller(client, request(HTTP_X_CLIENT_KEY=ck, HTTP_X_CLIENT_SECRET=cs), hit=True),
    )
    cases["client_miss_unknown_key"] = (
        "floor_hmac_sha256",
        caller(client, request(HTTP_X_CLIENT_KEY="ck_" + "x" * 24, HTTP_X_CLIENT_SECRET=cs), hit=False),
    )
    cases["client_miss_bad_secret"] = (
        "floor_hmac_sha256",
        caller(client, request(HTTP_X_CLIENT_KEY=ck, HTTP_X_CLIENT_SECRET=cs[:-4] + "xxxx"), hit=False),
    )

    api_key_cls = getattr(ours, "ApiKeyAuthentication", None)
    if api_key_cls is None:
        for name in ("api_key_hit", "api_key_legacy_hit", "api_key_miss_unknown_key", "api_key_miss_bad_secret"):
            cases[name] = (None, "not built yet")
    else:
        auth = api_key_cls()
        key = seed["api_key"]
        cases["api_key_hit"] = ("floor_hmac_sha256", caller(auth, request(HTTP_API_KEY=key), hit=True))
        cases["api_key_legacy_hit"] = (
            "floor_hmac_sha256",
            caller(auth, request(HTTP_API_KEY=seed["api_key_legacy"]), hit=True),
        )
        cases["api_key_miss_unknown_key"] = (
            "floor_hmac_sha256",
            caller(auth, request(HTTP_API_KEY="0" * 32 + key[32:]), hit=False),
        )
        cases["api_key_miss_bad_secret"] = (
            "floor_hmac_sha256",
            caller(auth, request(HTTP_API_KEY=key[:-4] + "xxxx"), hit=False),
        )

    api_token_cls = getattr(ours, "ApiTokenAuthentication", None)
    api_token = cfg.get("api_token")
    if api_token_cls is None or not api_token:
        reason = "not built yet" if api_token_cls is None else "no token minted (user/apikeys/token not built yet)"
        cases["api_token_hit"] = (None, reason)
        cases["api_token_miss_bad_signature"] = (None, reason)
    else:
        auth = api_token_cls()
        alg = jwt.get_unverified_header(api_token).get("alg", "")
        floor = "floor_rs256_verify" if alg.startswith("RS") else "floor_hmac_sha256"
        bad = api_token[:-6] + ("AAAAAA" if not api_token.endswith("AAAAAA") else "BBBBBB")
        cases["api_token_hit"] = (floor, caller(auth, request(HTTP_AUTHORIZATION=f"Bearer {api_token}"), hit=True))
        cases["api_token_miss_bad_signature"] = (
            floor,
            caller(auth, request(HTTP_AUTHORIZATION=f"Bearer {bad}"), hit=False),
        )

    customer = ours.CustomerJWTAuthentication()
    cases["customer_jwt_hit"] = (
        "floor_rs256_verify",
        caller(customer, request(HTTP_AUTHORIZATION=f"Bearer {token}"), hit=True),
    )
    cases["customer_jwt_miss_bad_signature"] = (
        "floor_rs256_verify",
        caller(customer, request(HTTP_AUTHORIZATION=f"Bearer {seed['customer_token_bad_signature']}"), hit=False),
    )
    cases["customer_jwt_miss_unknown_kid"] = (
        "floor_rs256_verify",
        caller(customer, request(HTTP_AUTHORIZATION=f"Bearer {seed['customer_token_unknown_kid']}"), hit=False),
    )

    # Repeats are interleaved (every case once per round), so a case and its floor are measured at
    # nearly the same moment and their ratio is paired by round.
    live = {name: fn for name, (floor, fn) in cases.items() if floor is not None}
    loops = {name: calibrate(fn, cfg["target_s"]) for name, fn in live.items()}
    rounds = [{name: timed(fn, loops[name]) for name, fn in live.items()} for _ in range(cfg["repeats"])]
    out = {}
    for name, (floor, fn) in cases.items():
        if floor is None:
            out[name] = {"na": fn}
        else:
            out[name] = {"floor": floor or None, "us": [r[name] for r in rounds], "loops": loops[name]}
    return out


if __name__ == "__main__":
    print(json.dumps(main(json.loads(open(sys.argv[1]).read()))))
