"""Fetching an image from a user-supplied URL without becoming an SSRF proxy.

Each hop: https only, the host resolved once, every resolved address checked to be public, then
the TCP connection made to that checked address (TLS still verifies the certificate for the host
name, sent by SNI and in the Host header), so a DNS answer cannot change between the check and
the connection. Redirects are followed by hand, each re-checked; size and time are capped, the
time across the whole fetch (`Deadline`). Every refusal of the address check reads the same.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import os
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import certifi
from django.conf import settings

from apps.media.errors import (
    FetchFailed,
    ForbiddenAddress,
    HttpsRequired,
    InvalidUrl,
    MediaTooLarge,
    TooManyRedirects,
)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_REDIRECTS = {301, 302, 303, 307, 308}
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
_ALLOWED_PORTS = {443}
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class FetchedFile:
    data: bytes
    url: str  # the final URL after redirects
    name: str


def address_is_public(ip: IPAddress) -> bool:
    """True only for globally routable unicast addresses, looking through IPv6 forms that embed
    an IPv4 address (mapped, 6to4, NAT64, Teredo)."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return address_is_public(ip.ipv4_mapped)
        if ip.sixtofour is not None:
            return address_is_public(ip.sixtofour)
        if ip.teredo is not None:
            server, client = ip.teredo
            return address_is_public(server) and address_is_public(client)
        if ip in _NAT64_LOCAL:
            return False
        if ip in _NAT64:
            return address_is_public(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
        if ip.is_site_local:
            return False
    return ip.is_global and not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


# One answer for every refusal of the guard, whatever the address or the DNS error: details (what
# a name resolves to, whether it resolves at all) would map the internal network for the caller.
NOT_PUBLIC = "The URL's host does not resolve to public internet addresses only; it is not fetched."


def resolve_public(host: str, port: int) -> IPAddress:
    """Resolve `host` once; refuse unless every address is public. Returns the one to dial.

    Raises ForbiddenAddress with NOT_PUBLIC for a host that does not resolve too: an internal
    name that resolves to a private address must look the same as a name that does not exist."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise ForbiddenAddress(NOT_PUBLIC) from exc
    addresses = []
    for _family, _type, _proto, _canonname, sockaddr in infos:
        raw = str(sockaddr[0]).split("%", 1)[0]  # drop an IPv6 zone id
        addresses.append(ipaddress.ip_address(raw))
    if not addresses or not all(address_is_public(address) for address in addresses):
        raise ForbiddenAddress(NOT_PUBLIC)
    return addresses[0]


class Deadline:
    """The whole fetch's deadline. Socket timeouts bound each operation, but a server that
    trickles a byte at a time resets them, through the TLS handshake, the headers or the body;
    so at the deadline a timer shuts the current hop's socket down, and whatever is blocked on
    it fails at once."""

    def __init__(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds
        self._lock = threading.Lock()
        self.watched: socket.socket | None = None
        self._expired = False
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> Deadline:
        self._timer.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._timer.cancel()

    @property
    def expired(self) -> bool:
        return self._expired or time.monotonic() >= self.at

    def remaining(self) -> float:
        return max(self.at - time.monotonic(), 0.0)

    def watch(self, sock: socket.socket | None) -> None:
        """The socket to shut down at the deadline (None: the hop is over)."""
        with self._lock:
            self.watched = sock
            if sock is not None and self._expired:
                _shut_down(sock)

    def _expire(self) -> None:
        with self._lock:
            self._expired = True
            if self.watched is not None:
                _shut_down(self.watched)


def _shut_down(sock: socket.socket) -> None:
    # On a duplicate of the descriptor: shutdown(2) acts on the connection itself, so a recv()
    # blocked in another thread returns, and the TLS object of the original is left untouched.
    with contextlib.suppress(OSError):
        duplicate = socket.socket(fileno=os.dup(sock.fileno()))
        with duplicate:
            duplicate.shutdown(socket.SHUT_RDWR)


def _parse(url: str) -> tuple[str, int, str, str]:
    """(host, port, Host header, path with query) of an https URL, or a refusal."""
    try:
        parts = urlsplit(url)
        port = parts.port or 443
    except ValueError as exc:
        raise InvalidUrl("The URL is malformed.") from exc
    if parts.scheme.lower() != "https":
        raise HttpsRequired("Only https:// URLs can be fetched.")
    if not parts.hostname:
        raise InvalidUrl("The URL has no host.")
    if parts.username or parts.password:
        raise InvalidUrl("URLs with credentials are not fetched.")
    if port not in _ALLOWED_PORTS:
        raise InvalidUrl("Only the standard https port (443) is allowed.")
    try:
        host = parts.hostname.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise InvalidUrl("The host name is not valid.") from exc
    host_header = host if port == 443 else f"{host}:{port}"
    if ":" in host:  # an IPv6 literal goes back in brackets in the Host header
        host_header = f"[{host}]" if port == 443 else f"[{host}]:{port}"
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return host, port, host_header, path


def _connect(
    address: IPAddress, port: int, host: str, context: ssl.SSLContext, deadline: Deadline
) -> http.client.HTTPSConnection:
    """An HTTPS connection to the checked `address` whose TLS verifies the certificate for
    `host` (sent by SNI), watched by `deadline` from the TLS handshake on."""
    timeout = min(float(settings.MEDIA_FETCH_TIMEOUT), deadline.remaining())
    raw = socket.create_connection((str(address), port), timeout=timeout)
    deadline.watch(raw)
    try:
        tls = context.wrap_socket(raw, server_hostname=host)  # takes over the descriptor
    except BaseException:
        raw.close()
        raise
    deadline.watch(tls)
    connection = http.client.HTTPSConnection(host, port, timeout=timeout, context=context)
    connection.sock = tls  # already connected to the checked address: never dialled by name
    return connection


def fetch_image_bytes(url: str, *, max_bytes: int) -> FetchedFile:
    """GET `url` under the rules above, within MEDIA_FETCH_TIMEOUT per operation and twice that
    for the whole fetch (DNS aside: connect, TLS, every redirect, headers and body). Raises
    HttpsRequired, InvalidUrl, ForbiddenAddress, TooManyRedirects, MediaTooLarge or FetchFailed."""
    timeout = float(settings.MEDIA_FETCH_TIMEOUT)
    context = ssl.create_default_context(cafile=settings.MEDIA_FETCH_CA_BUNDLE or certifi.where())
    max_redirects = int(settings.MEDIA_FETCH_MAX_REDIRECTS)
    with Deadline(timeout * 2) as deadline:
        for _hop in range(max_redirects + 1):
            host, port, host_header, path = _parse(url)
            address = resolve_public(host, port)
            if deadline.expired:
                raise FetchFailed(_too_long(host))
            try:
                result = _get(
                    url, host, port, host_header, path, address, context, deadline, max_bytes
                )
            except (OSError, http.client.HTTPException, ValueError) as exc:
                if deadline.expired:
                    raise FetchFailed(_too_long(host)) from exc
                raise FetchFailed(f"Could not fetch {host}: {type(exc).__name__}.") from exc
            finally:
                deadline.watch(None)
            if isinstance(result, FetchedFile):
                return result
            url = result  # a redirect
    raise TooManyRedirects(f"More than {max_redirects} redirects.")


def _too_long(host: str) -> str:
    return f"{host} took too long to answer (at most {2 * settings.MEDIA_FETCH_TIMEOUT:g} s)."


def _get(
    url: str,
    host: str,
    port: int,
    host_header: str,
    path: str,
    address: IPAddress,
    context: ssl.SSLContext,
    deadline: Deadline,
    max_bytes: int,
) -> FetchedFile | str:
    """One hop: the file, or the URL a redirect points to."""
    connection = _connect(address, port, host, context, deadline)
    try:
        connection.request(
            "GET",
            path,
            headers={
                "Host": host_header,
                "User-Agent": "marketplace-media-fetcher/1",
                "Accept": "image/*",
                "Accept-Encoding": "identity",
                "Connection": "close",
            },
        )
        response = connection.getresponse()
        # A socket shut down at the deadline reads as the end of the stream, which http.client
        # may take for the end of the headers or of the body: the clock decides, not the data.
        if deadline.expired:
            raise FetchFailed(_too_long(host))
        if response.status in _REDIRECTS:
            location = response.getheader("Location")
            if not location:
                raise FetchFailed(f"{host} redirected without a Location.")
            return urljoin(url, location)
        if response.status != 200:
            raise FetchFailed(f"{host} answered HTTP {response.status}.")
        declared = response.getheader("Content-Length")
        if declared and declared.isdigit() and int(declared) > max_bytes:
            raise MediaTooLarge(f"The file is {declared} bytes; at most {max_bytes}.")
        data = bytearray()
        while chunk := response.read1(_CHUNK):
            data += chunk
            if len(data) > max_bytes:
                raise MediaTooLarge(f"The file is larger than {max_bytes} bytes.")
            if deadline.expired:
                raise FetchFailed(_too_long(host))
        if deadline.expired:
            raise FetchFailed(_too_long(host))
        name = path.split("?", 1)[0].rsplit("/", 1)[-1][:255]
        return FetchedFile(data=bytes(data), url=url, name=name)
    finally:
        connection.close()
