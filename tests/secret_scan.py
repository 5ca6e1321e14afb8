"""Secrets never logged: the test session remembers every secret it sees created, and searches every log
record, every line the live servers log, every error body the API returns and every request URL for one.

What is remembered (``Instrumentation``): the plaintexts the credential services return (client secrets, API
keys, legacy keys once imported, generated private keys), API tokens as ``api_token_encode`` mints them,
every JWT signed in this process (``jwt.encode``: the customer tokens the tests sign), platform token
keys as they are encrypted for storage, the tokens Node scripts print (``run_node``), and what the live
server hands out in a successful response (``api_key``, ``token``, ... fields; see ``SECRET_FIELDS``).
The real functions run unchanged; only their results are noted. The configured ``SECRET_KEY``, pepper and
key-encryption key are searched for as well.

Only a secret's distinctive part is searched for: the random half of an API key (its first 32 characters
are the key's id, which may be logged), the body of a client secret, a JWT's signature, the private
numbers of a private key (not the modulus, which its public key shares). A match is any run of
``MATCH`` characters of such a part, so a truncated secret is found too.

Where it is searched (``collect_*``): log records of this process at DEBUG (message with its arguments,
traceback, stack, ``extra`` values), the live servers' log files (they run with ``LOG_LEVEL=DEBUG``),
4xx/5xx bodies and request URLs of ``tests.live.api_client`` clients. What is collected is checked at
the end of each test, against the secrets known by then, and all of it once more at the end of the
session, so that a secret noted after it was logged is still found.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import logging
import re
import sys
import threading
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

# A leak is a run of at least MATCH characters of a secret's distinctive part. Parts are indexed by
# windows of WINDOW characters every STEP characters, so any such run contains a whole indexed window.
WINDOW = 20
STEP = 4
MATCH = WINDOW + STEP - 1
# Generated secrets are random: a window of them has about 12 (hex) to 17 (base62) distinct characters.
MIN_DISTINCT = 8
# Runs of the characters secrets are written in (base62, base64, base64url, hex).
RUN = re.compile(rf"[A-Za-z0-9+/_-]{{{WINDOW},}}")
BASE62 = re.compile(r"[0-9A-Za-z]+")
# JSON fields in which the API (or a Node script) hands out a secret.
SECRET_FIELDS = {
    "api_key",
    "key",
    "token",
    "client_secret",
    "secret",
    "private_key",
    "private_key_pem",
    "access_token",
    "refresh_token",
}
# The test's own Socket.IO client (the customer's side, not the platform): off by default, it logs every
# packet it sends, the customer's token included, when turned on. Left as it is, and not collected.
CLIENT_SIDE_LOGGERS = ("engineio.client", "socketio.client")
STANDARD_RECORD_ATTRIBUTES = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


@dataclass(frozen=True)
class Secret:
    kind: str
    hint: str  # printable: a non-secret prefix or a short description, never the distinctive part
    origin: str  # where it was noted


@dataclass
class Leak:
    secret: Secret
    where: str

    def __str__(self) -> str:
        return f"{self.secret.kind} {self.secret.hint} (noted from {self.secret.origin}) appears in {self.where}"


@dataclass
class Item:
    """Something collected: where it comes from, and the candidate runs in it (not the text itself)."""

    where: str
    runs: list[str]


@dataclass
class Scanner:
    windows: dict[str, Secret] = field(default_factory=dict)
    needles: dict[str, Secret] = field(default_factory=dict)  # searched for as whole strings
    parts: set[str] = field(default_factory=set)  # every distinctive part remembered
    archive: list[Item] = field(default_factory=list)
    checked: int = 0  # archive[:checked] was checked at the end of a test
    responses: list = field(default_factory=list)  # httpx responses whose body is not looked at yet
    early_leaks: list[Leak] = field(default_factory=list)  # needles, found when collected
    reported: set[tuple[Secret, str]] = field(default_factory=set)
    counts: Counter = field(default_factory=Counter)
    loggers: Counter = field(default_factory=Counter)  # log records by top-level logger and level
    seconds: Counter = field(default_factory=Counter)  # what the scan costs
    current_test: str = "(no test)"
    lock: threading.Lock = field(default_factory=threading.Lock)

    # --- secrets ------------------------------------------------------------------------------------
    def add(self, kind: str, part: str, *, hint: str, origin: str, start: int = 0, counted: bool = True) -> None:
        """Remember ``part[start:]`` (``start`` keeps window alignment relative to the part's beginning)."""
        if len(part) - start < MATCH:
            return
        secret = Secret(kind, hint, origin)
        with self.lock:
            if part in self.parts:
                return
            self.parts.add(part)
            if counted:
                self.counts[f"secrets: {kind}"] += 1
            first = -(-start // STEP) * STEP
            for i in range(first, len(part) - WINDOW + 1, STEP):
                window = part[i : i + WINDOW]
                if len(set(window)) >= MIN_DISTINCT:  # "xxxx…" in a test's own secret matches too much
                    self.windows.setdefault(window, secret)

    def add_needle(self, kind: str, value: str, *, origin: str) -> None:
        if value and len(value) >= 8:
            secret = Secret(kind, f"({len(value)} characters)", origin)
            self.needles[value] = secret
            self.add(kind, value, hint=secret.hint, origin=origin)

    def add_plaintext(self, value, *, origin: str, kind: str | None = None) -> None:
        """Remember a secret given as its plaintext, recognising what it is by its shape."""
        if isinstance(value, bytes):
            return self.add_bytes(value, origin=origin, kind=kind or "secret bytes")
        if not isinstance(value, str):
            return
        value = value.strip()
        if "PRIVATE KEY-----" in value:
            self.add_private_pem(value, origin=origin)
        elif looks_like_jwt(value):
            self.add_jwt(value, origin=origin)
        elif value.startswith("cs_"):
            self.add(kind or "client secret", value[3:], hint=value[:7], origin=origin)
        elif len(value) == 64 and BASE62.fullmatch(value):
            # The first 32 characters are the key's id (hex), which may be logged.
            self.add(kind or "API key", value[32:], hint=f"id {value[:32]}", origin=origin)
        elif len(value) == 32 and BASE62.fullmatch(value):
            self.add(kind or "legacy API key", value, hint=value[:4], origin=origin)
        else:
            self.add(kind or "secret", value, hint=f"({len(value)} characters)", origin=origin)

    def add_jwt(self, token: str, *, origin: str) -> None:
        header_part, _, rest = token.partition(".")
        signature = rest.rpartition(".")[2]
        if not signature:
            return  # an unsigned token ("alg": "none") holds nothing secret
        try:
            header = json.loads(base64.urlsafe_b64decode(header_part + "=" * (-len(header_part) % 4)))
        except (ValueError, binascii.Error):
            header = {}
        hint = f"(alg {header.get('alg')}, kid {header.get('kid')})"
        self.add("JWT", signature, hint=hint, origin=origin)

    def add_bytes(self, value: bytes, *, origin: str, kind: str) -> None:
        hint = f"({len(value)} bytes)"
        self.add(kind, value.hex(), hint=hint, origin=origin)
        self.add(kind, base64.b64encode(value).decode(), hint=hint, origin=origin, counted=False)
        self.add(kind, base64.urlsafe_b64encode(value).decode(), hint=hint, origin=origin, counted=False)

    def add_private_pem(self, pem: str, *, origin: str) -> None:
        lines = pem.replace("\\n", "\n").splitlines()
        body = "".join(line.strip() for line in lines if line.strip() and not line.startswith("-----"))
        start, hint = private_part_start(body)
        self.add("private key", body, hint=hint, origin=origin, start=start)

    def add_json(self, data, *, origin: str) -> None:
        """Remember the secrets in a JSON document: fields named like one, and anything shaped like a JWT."""
        if isinstance(data, dict):
            for name, value in data.items():
                if isinstance(value, str) and name.lower() in SECRET_FIELDS:
                    self.add_plaintext(value, origin=f"{origin} field {name!r}")
                else:
                    self.add_json(value, origin=origin)
        elif isinstance(data, list):
            for value in data:
                self.add_json(value, origin=origin)
        elif isinstance(data, str) and looks_like_jwt(data):
            self.add_jwt(data, origin=origin)

    # --- what is searched ---------------------------------------------------------------------------
    def collect_text(self, text: str, *, where: str, kind: str | None) -> None:
        if kind:
            self.counts[kind] += 1
        where = f"{where} (during {self.current_test})"
        for needle, secret in self.needles.items():
            if needle in text:
                self.early_leaks.append(Leak(secret, where))
        runs = candidate_runs(text)
        if runs:
            with self.lock:
                self.archive.append(Item(where, runs))

    def collect_record(self, record: logging.LogRecord) -> None:
        if record.name.startswith(CLIENT_SIDE_LOGGERS):
            return
        self.loggers[f"{record.name.split('.')[0]} {record.levelname}"] += 1
        self.collect_text(record_text(record), where=describe_record(record), kind="log records")

    def collect_file(self, path: Path, *, where: str) -> None:
        """A server's log: each line with a candidate run is kept, with its line number."""
        self.counts["server log files"] += 1
        with open(path, encoding="utf-8", errors="replace") as lines:
            for number, line in enumerate(lines, 1):
                self.counts["server log lines"] += 1
                self.collect_text(line, where=f"{where} line {number}", kind=None)

    def collect_request(self, request) -> None:
        self.collect_text(
            str(request.url), where=f"request URL {request.method} {request.url.path}", kind="request URLs"
        )

    def collect_response(self, response) -> None:
        # The body is looked at later: here (an httpx event hook) it is not read yet, and reading it
        # would change how a streamed response behaves.
        with self.lock:
            self.responses.append(response)

    def drain_responses(self) -> None:
        with self.lock:
            responses, self.responses = self.responses, []
        for response in responses:
            try:
                body = response.content
            except Exception:  # a streamed response the test did not read: nothing was seen
                self.counts["response bodies not read by the test"] += 1
                continue
            request = response.request
            where = f"{response.status_code} body of {request.method} {request.url.path}"
            if response.status_code >= 400:
                self.collect_text(body.decode("utf-8", "replace"), where=f"error {where}", kind="error bodies")
            elif "json" in response.headers.get("content-type", ""):
                self.counts["successful JSON bodies read for secrets"] += 1
                try:
                    data = json.loads(body)
                except ValueError:
                    continue
                self.add_json(data, origin=f"the {where}")

    # --- checking -----------------------------------------------------------------------------------
    def leaks_in_text(self, text: str, *, where: str = "the text") -> list[Leak]:
        """The checker itself, on one text, collecting nothing."""
        early = [Leak(secret, where) for needle, secret in self.needles.items() if needle in text]
        found = {leak.secret: leak for leak in early + self.leaks_in([Item(where, candidate_runs(text))])}
        return list(found.values())

    def leaks_in_record(self, record: logging.LogRecord) -> list[Leak]:
        """The checker itself, on one log record, collecting nothing."""
        return self.leaks_in_text(record_text(record), where=describe_record(record))

    def leaks_in(self, items: list[Item]) -> list[Leak]:
        leaks = []
        for item in items:
            found = {}
            for run in item.runs:
                for i in range(len(run) - WINDOW + 1):
                    secret = self.windows.get(run[i : i + WINDOW])
                    if secret is not None:
                        found[secret] = Leak(secret, item.where)
            leaks.extend(found.values())
        return leaks

    def _new(self, leaks: list[Leak]) -> list[Leak]:
        fresh = []
        for leak in leaks:
            key = (leak.secret, leak.where)
            if key not in self.reported:
                self.reported.add(key)
                fresh.append(leak)
        return fresh

    def check_recent(self) -> list[Leak]:
        """Leaks in what was collected since the last check (the end of a test)."""
        began = time.perf_counter()
        try:
            return self._check_recent()
        finally:
            self.seconds["checking after each test"] += time.perf_counter() - began

    def _check_recent(self) -> list[Leak]:
        self.drain_responses()
        with self.lock:
            recent, self.checked = self.archive[self.checked :], len(self.archive)
            early, self.early_leaks = self.early_leaks, []
        return self._new(early + self.leaks_in(recent))

    def check_all(self) -> list[Leak]:
        """Leaks anywhere in the session, against every secret known now (end of the session)."""
        began = time.perf_counter()
        try:
            return self._check_all()
        finally:
            self.seconds["checking at the end"] += time.perf_counter() - began

    def _check_all(self) -> list[Leak]:
        self.drain_responses()
        with self.lock:
            early, self.early_leaks = self.early_leaks, []
        return self._new(early + self.leaks_in(self.archive))

    def summary(self) -> str:
        counts = dict(sorted(self.counts.items()))
        counts["secrets tracked (all kinds)"] = sum(
            n for name, n in self.counts.items() if name.startswith("secrets: ")
        )
        counts["items with candidate runs kept"] = len(self.archive)
        busiest = ", ".join(f"{name}: {count}" for name, count in self.loggers.most_common(8))
        cost = ", ".join(f"{name} {seconds:.2f}s" for name, seconds in self.seconds.items())
        return (
            ", ".join(f"{name}: {count}" for name, count in counts.items())
            + f"; log records by logger: {busiest}; time: {cost}"
        )


# --- text of what is searched -------------------------------------------------------------------------
def candidate_runs(text: str) -> list[str]:
    runs = RUN.findall(text)
    if "%" in text:  # a URL-encoded secret (a query string)
        runs += RUN.findall(urllib.parse.unquote(text))
    return runs


def record_text(record: logging.LogRecord) -> str:
    """Everything of a record a handler could write: message with arguments, traceback, stack, extras."""
    try:
        parts = [record.getMessage()]
    except Exception:  # arguments that do not fit the message: a formatter would print both
        parts = [str(record.msg), repr(record.args)]
    if record.exc_info and record.exc_info[1] is not None:
        parts.append(exception_text(record.exc_info[1]))
    if record.exc_text:
        parts.append(record.exc_text)
    if record.stack_info:
        parts.append(record.stack_info)
    for name in record.__dict__.keys() - STANDARD_RECORD_ATTRIBUTES:  # what ``extra`` added
        try:
            parts.append(f"{name}={record.__dict__[name]!r}")
        except Exception:
            pass
    return "\n".join(parts)


def exception_text(exc: BaseException) -> str:
    """What a formatted traceback holds besides source lines: each chained exception's type, message
    and notes. (Formatting the traceback itself reads source files and costs about a millisecond.)"""
    parts, seen = [], set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        try:
            parts.append(f"{type(exc).__name__}: {exc}")
        except Exception:
            parts.append(repr(exc.args))
        parts.extend(str(note) for note in getattr(exc, "__notes__", None) or ())
        exc = exc.__cause__ or exc.__context__
    return "\n".join(parts)


def describe_record(record: logging.LogRecord) -> str:
    template = str(record.msg)[:80]
    return f"log record {record.name} {record.levelname} at {record.pathname}:{record.lineno} ({template!r})"


def looks_like_jwt(value: str) -> bool:
    parts = value.split(".")
    if len(parts) != 3 or not parts[0].startswith("eyJ"):
        return False
    return all(re.fullmatch(r"[A-Za-z0-9_-]*", part) for part in parts)


def private_part_start(body: str) -> tuple[int, str]:
    """Where the private numbers start in a PKCS#8 RSA key's base64 body (the modulus and exponent
    before them are public), and a printable hint."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    try:
        der = base64.b64decode(body)
        key = serialization.load_der_private_key(der, password=None)
    except (ValueError, TypeError, binascii.Error):
        return 64, "(unparsed private key)"
    if not isinstance(key, rsa.RSAPrivateKey):
        return 64, f"({type(key).__name__})"
    numbers = key.private_numbers()
    modulus = numbers.public_numbers.n.to_bytes((numbers.public_numbers.n.bit_length() + 7) // 8, "big")
    at = der.find(modulus)
    if at < 0:
        return 64, "(RSA private key)"
    exponent = numbers.public_numbers.e.to_bytes((numbers.public_numbers.e.bit_length() + 7) // 8, "big")
    end = der.find(exponent, at + len(modulus)) + len(exponent)
    return -(-end * 4 // 3), f"(RSA {key.key_size}, modulus ends …{modulus[-4:].hex()})"


# --- the session's scanner and how it is fed ----------------------------------------------------------
scanner = Scanner()
active_logging: DebugLogging | None = None


class Collector(logging.Handler):
    """On the root logger: every record that reaches it is collected."""

    def __init__(self, target: Scanner) -> None:
        super().__init__(logging.DEBUG)
        self.target = target

    def emit(self, record: logging.LogRecord) -> None:
        began = time.perf_counter()
        self.target.collect_record(record)
        self.target.seconds["collecting log records"] += time.perf_counter() - began


class LevelsAsConfigured(logging.Filter):
    """For the handlers that were there before (the console, pytest's capture): pass only what the
    logger levels let through before they were lowered to DEBUG, so they print no more than before.
    A level someone sets later (``caplog.set_level``) is honoured as it is."""

    def __init__(self, lowered: dict[str, int]) -> None:
        super().__init__()
        self.lowered = lowered

    def filter(self, record: logging.LogRecord) -> bool:
        logger = logging.getLogger(record.name) if record.name != "root" else logging.getLogger()
        while logger is not None:
            key = logger.name if logger.parent is not None else ""
            if key in self.lowered and logger.level == logging.DEBUG:
                return record.levelno >= self.lowered[key]
            if logger.level != logging.NOTSET:
                return record.levelno >= logger.level
            logger = logger.parent
        return True


@dataclass
class DebugLogging:
    """Every logger at DEBUG for the session, the collector on the root logger."""

    target: Scanner
    lowered: dict[str, int] = field(default_factory=dict)  # logger name ("" for root) -> its level before
    filtered: list[logging.Handler] = field(default_factory=list)

    def start(self, other_handlers: list[logging.Handler]) -> None:
        self.collector = Collector(self.target)
        self.keep = LevelsAsConfigured(self.lowered)
        self.lower()
        for handler in [*logging.getLogger().handlers, *other_handlers]:
            if handler not in self.filtered:
                handler.addFilter(self.keep)
                self.filtered.append(handler)
        logging.getLogger().addHandler(self.collector)

    def lower(self) -> None:
        """Lower every logger above DEBUG (run again before each test: libraries set levels when used)."""
        loggers = [("", logging.getLogger())]
        loggers += [
            (name, logger)
            for name, logger in list(logging.Logger.manager.loggerDict.items())
            if isinstance(logger, logging.Logger)
        ]
        for name, logger in loggers:
            if logger.level > logging.DEBUG and not name.startswith(CLIENT_SIDE_LOGGERS):
                self.lowered.setdefault(name, logger.level)
                logger.setLevel(logging.DEBUG)

    def stop(self) -> None:
        logging.getLogger().removeHandler(self.collector)
        for handler in self.filtered:
            handler.removeFilter(self.keep)
        for name, level in self.lowered.items():
            (logging.getLogger(name) if name else logging.getLogger()).setLevel(level)


# --- noting secrets where they are made ---------------------------------------------------------------
@dataclass
class Instrumentation:
    """Wraps the functions that make secrets: the real function runs, and its result (or the secret it
    is given) is noted."""

    target: Scanner
    wrapped: list[tuple[object, str, object]] = field(default_factory=list)  # (module, name, original)

    def wrap(self, module, name: str, *, result=None, call=None) -> None:
        """``result(value, kwargs)`` after a call that returned, ``call(args, kwargs)`` before each call."""
        original = getattr(module, name)

        @functools.wraps(original)
        def wrapper(*args, **kwargs):
            if call is not None:
                call(args, kwargs)
            value = original(*args, **kwargs)
            if result is not None:
                result(value, kwargs)
            return value

        # Also where it was imported by name (``from tests.live import run_node``).
        for other in list(sys.modules.values()):
            if getattr(other, "__dict__", {}).get(name) is original:
                setattr(other, name, wrapper)
                self.wrapped.append((other, name, original))

    def start(self) -> None:
        import jwt

        from credentials import hashing, services
        from tests import live
        from tokens import api_tokens

        target = self.target

        def plaintexts(origin: str):
            def note(value, kwargs):
                for item in value if isinstance(value, tuple) else (value,):
                    if isinstance(item, (str, bytes)):
                        target.add_plaintext(item, origin=origin)

            return note

        for name in (
            "client_create",
            "client_secret_rotate",
            "api_key_create",
            "api_key_rotate",
            "signing_key_generate",
        ):
            self.wrap(services, name, result=plaintexts(f"credentials.services.{name}"))
        # A legacy key is made by the caller; once imported it is a stored credential.
        self.wrap(
            services,
            "api_key_import_legacy",
            result=lambda value, kwargs: target.add_plaintext(
                kwargs.get("key"), origin="credentials.services.api_key_import_legacy", kind="legacy API key"
            ),
        )
        # A platform token key's secret exists in plaintext only on its way into encryption.
        self.wrap(
            hashing,
            "encrypt_secret",
            call=lambda args, kwargs: target.add_plaintext(
                args[0] if args else kwargs.get("plaintext"),
                origin="credentials.hashing.encrypt_secret",
                kind="platform token key",
            ),
        )
        self.wrap(api_tokens, "api_token_encode", result=plaintexts("tokens.api_tokens.api_token_encode"))
        self.wrap(jwt, "encode", result=plaintexts("jwt.encode in the test process"))
        self.wrap(
            live, "run_node", result=lambda value, kwargs: target.add_json(value, origin="a Node script's output")
        )

    def stop(self) -> None:
        while self.wrapped:
            module, name, original = self.wrapped.pop()
            setattr(module, name, original)


def configured_secrets(target: Scanner) -> None:
    from django.conf import settings

    platform = settings.AUTHPLATFORM
    for kind, values in [
        ("SECRET_KEY", [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]),
        ("AUTHPLATFORM_PEPPER", [platform["PEPPER"], *platform["PEPPER_FALLBACKS"]]),
        (
            "AUTHPLATFORM_KEY_ENCRYPTION_KEY",
            [platform["KEY_ENCRYPTION_KEY"], *platform["KEY_ENCRYPTION_KEY_FALLBACKS"]],
        ),
    ]:
        for value in values:
            if isinstance(value, str):
                target.add_needle(kind, value, origin="settings")


def http_event_hooks() -> dict[str, list]:
    """httpx event hooks for a test client: its request URLs and response bodies are collected."""
    return {"request": [scanner.collect_request], "response": [scanner.collect_response]}


def collect_server_log(path: Path | None, *, port: int) -> None:
    if path is not None and path.exists():
        scanner.collect_file(path, where=f"daphne log {path.name} (port {port})")


def start(config) -> tuple[Instrumentation, DebugLogging]:
    """Note secrets and collect DEBUG records from now on (``config``: pytest's, for its log handlers)."""
    configured_secrets(scanner)
    instrumentation = Instrumentation(scanner)
    instrumentation.start()
    plugin = config.pluginmanager.get_plugin("logging-plugin")
    pytest_handlers = [
        getattr(plugin, name)
        for name in ("caplog_handler", "report_handler", "log_file_handler", "log_cli_handler")
        if plugin is not None and isinstance(getattr(plugin, name, None), logging.Handler)
    ]
    global active_logging
    active_logging = DebugLogging(scanner)
    active_logging.start(pytest_handlers)
    return instrumentation, active_logging


def lower_levels() -> None:
    if active_logging is not None:
        active_logging.lower()


def report(leaks: list[Leak]) -> str:
    return "A secret reached a log, an error body or a URL:\n" + "\n".join(f"- {leak}" for leak in leaks)
