"""Webhook target URLs through the media import's SSRF guard, and the one POST of an attempt.

A target is https on a public address (`apps.media.remote_fetch.resolve_public`), checked when
the endpoint is saved and again at every attempt: the host is resolved once per attempt and the
connection made to the checked address (TLS still verifies the certificate for the host name),
so a DNS answer cannot change between the check and the connection. Redirects are not followed
(a 3xx is a failed attempt). `WEBHOOKS_ALLOW_LOOPBACK` (development and tests only) also admits
http:// and loopback addresses; private, link-local and metadata addresses stay refused.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

import certifi
from django.conf import settings

from apps.core.errors import field_error
from apps.media.errors import ForbiddenAddress
from apps.media.remote_fetch import (
    NOT_PUBLIC,
    Deadline,
    IPAddress,
    address_is_public,
    resolve_public,
)
from apps.webhooks.errors import InvalidTarget

RESPONSE_EXCERPT_BYTES = 1000
USER_AGENT = "marketplace-webhooks/1"


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    host_header: str
    path: str


@dataclass(frozen=True)
class Answer:
    status: int
    excerpt: str


class SendFailed(Exception):
    """No HTTP answer: refused target, connection error or timeout (`reason` says which)."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def _refuse(detail: str) -> InvalidTarget:
    return InvalidTarget(detail, errors=[field_error("/url", InvalidTarget.code, detail)])


def target_parse(url: str) -> Target:
    """The parts of a target URL, or InvalidTarget."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise _refuse("The URL is malformed.") from exc
    scheme = parts.scheme.lower()
    allowed = ("https", "http") if settings.WEBHOOKS_ALLOW_LOOPBACK else ("https",)
    if scheme not in allowed:
        raise _refuse("Webhook URLs must use https://.")
    if not parts.hostname:
        raise _refuse("The URL has no host.")
    if parts.username or parts.password:
        raise _refuse("URLs with credentials are not accepted; use the signature instead.")
    if parts.fragment:
        raise _refuse("The URL must not have a fragment.")
    try:
        host = parts.hostname.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise _refuse("The host name is not valid.") from exc
    default_port = 443 if scheme == "https" else 80
    port = port or default_port
    shown = f"[{host}]" if ":" in host else host
    host_header = shown if port == default_port else f"{shown}:{port}"
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return Target(scheme=scheme, host=host, port=port, host_header=host_header, path=path)


def _allowed(address: IPAddress) -> bool:
    if address_is_public(address):
        return True
    return bool(settings.WEBHOOKS_ALLOW_LOOPBACK) and address.is_loopback


def target_resolve(target: Target) -> IPAddress:
    """The checked address to connect to, or InvalidTarget (the same words for every refusal,
    as the media guard: they must not map the internal network)."""
    if not settings.WEBHOOKS_ALLOW_LOOPBACK:
        try:
            return resolve_public(target.host, target.port)
        except ForbiddenAddress as exc:
            raise _refuse(NOT_PUBLIC) from exc
    try:
        infos = socket.getaddrinfo(
            target.host, target.port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
        )
    except (socket.gaierror, UnicodeError) as exc:
        raise _refuse(NOT_PUBLIC) from exc
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
    if not addresses or not all(_allowed(address) for address in addresses):
        raise _refuse(NOT_PUBLIC)
    return addresses[0]


def target_check(url: str) -> None:
    """Refuse a URL that could not be delivered to (InvalidTarget with the pointer /url)."""
    target_resolve(target_parse(url))


def _connection(
    target: Target, address: IPAddress, timeout: float, deadline: Deadline
) -> http.client.HTTPConnection:
    raw = socket.create_connection((str(address), target.port), timeout=timeout)
    deadline.watch(raw)
    if target.scheme == "http":
        plain = http.client.HTTPConnection(target.host, target.port, timeout=timeout)
        plain.sock = raw  # connected to the checked address: never dialled by name
        return plain
    context = ssl.create_default_context(cafile=certifi.where())
    try:
        tls = context.wrap_socket(raw, server_hostname=target.host)
    except BaseException:
        raw.close()
        raise
    deadline.watch(tls)
    secure = http.client.HTTPSConnection(target.host, target.port, timeout=timeout, context=context)
    secure.sock = tls
    return secure


def target_post(url: str, *, body: bytes, headers: dict[str, str]) -> Answer:
    """POST `body` to `url` once, within WEBHOOKS_TIMEOUT_SECONDS for the whole exchange.

    Returns the status and an excerpt of the answer; raises InvalidTarget (the guard refused
    the URL now) or SendFailed (no answer)."""
    target = target_parse(url)
    address = target_resolve(target)
    timeout = float(settings.WEBHOOKS_TIMEOUT_SECONDS)
    with Deadline(timeout) as deadline:
        connection = None
        try:
            connection = _connection(target, address, timeout, deadline)
            connection.request(
                "POST",
                target.path,
                body=body,
                headers={
                    "Host": target.host_header,
                    "Content-Type": "application/json",
                    "User-Agent": USER_AGENT,
                    "Accept-Encoding": "identity",
                    "Connection": "close",
                    **headers,
                },
            )
            response = connection.getresponse()
            excerpt = response.read(RESPONSE_EXCERPT_BYTES)
            if deadline.expired:
                raise TimeoutError
            return Answer(status=response.status, excerpt=excerpt.decode("utf-8", errors="replace"))
        except (OSError, http.client.HTTPException, ValueError) as exc:
            if deadline.expired or isinstance(exc, TimeoutError):
                raise SendFailed(f"No answer within {timeout:g} s.", reason="timeout") from exc
            raise SendFailed(
                f"Could not reach {target.host}: {type(exc).__name__}.", reason="connection_error"
            ) from exc
        finally:
            if connection is not None:
                connection.close()
