"""Fetching an image from a user-supplied URL without becoming an SSRF proxy.

Each hop: https only, the host resolved once, every resolved address checked to be public, then
the TCP connection made to that checked address (TLS still verifies the certificate for the host
name, sent by SNI and in the Host header), so a DNS answer cannot change between the check and
the connection. Redirects are followed by hand, each re-checked; size and time are capped.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import certifi
import urllib3
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


def resolve_public(host: str, port: int) -> IPAddress:
    """Resolve `host` once; refuse unless every address is public. Returns the one to dial."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise FetchFailed(f"Could not resolve {host}.") from exc
    addresses = []
    for _family, _type, _proto, _canonname, sockaddr in infos:
        raw = str(sockaddr[0]).split("%", 1)[0]  # drop an IPv6 zone id
        addresses.append(ipaddress.ip_address(raw))
    if not addresses:
        raise FetchFailed(f"Could not resolve {host}.")
    for address in addresses:
        if not address_is_public(address):
            raise ForbiddenAddress(f"{host} resolves to {address}, which is not a public address.")
    return addresses[0]


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


def fetch_image_bytes(url: str, *, max_bytes: int) -> FetchedFile:
    """GET `url` under the rules above. Raises HttpsRequired, InvalidUrl, ForbiddenAddress,
    TooManyRedirects, MediaTooLarge or FetchFailed."""
    timeout = float(settings.MEDIA_FETCH_TIMEOUT)
    deadline = time.monotonic() + timeout * 2  # connect + whole transfer, across redirects
    ca_bundle = settings.MEDIA_FETCH_CA_BUNDLE or certifi.where()
    max_redirects = int(settings.MEDIA_FETCH_MAX_REDIRECTS)

    for _hop in range(max_redirects + 1):
        host, port, host_header, path = _parse(url)
        address = resolve_public(host, port)
        pool = urllib3.HTTPSConnectionPool(
            host=str(address),
            port=port,
            server_hostname=host,  # SNI
            assert_hostname=host,  # the certificate must be for the name, not the address
            cert_reqs="CERT_REQUIRED",
            ca_certs=ca_bundle,
            timeout=urllib3.Timeout(connect=timeout, read=timeout),
            retries=False,
            maxsize=1,
        )
        try:
            response = pool.urlopen(
                "GET",
                path,
                headers={
                    "Host": host_header,
                    "User-Agent": "marketplace-media-fetcher/1",
                    "Accept": "image/*",
                    "Accept-Encoding": "identity",
                },
                redirect=False,
                retries=False,
                preload_content=False,
                assert_same_host=False,
            )
        except urllib3.exceptions.HTTPError as exc:
            pool.close()
            raise FetchFailed(f"Could not fetch {host}: {type(exc).__name__}.") from exc

        try:
            if response.status in _REDIRECTS:
                location = response.headers.get("Location")
                if not location:
                    raise FetchFailed(f"{host} redirected without a Location.")
                url = urljoin(url, location)
                continue
            if response.status != 200:
                raise FetchFailed(f"{host} answered HTTP {response.status}.")
            declared = response.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise MediaTooLarge(f"The file is {declared} bytes; at most {max_bytes}.")
            data = bytearray()
            try:
                # read1 returns what one recv() gives, so the deadline holds against a server
                # that trickles a byte at a time.
                while chunk := response.read1(_CHUNK, decode_content=False):
                    data += chunk
                    if len(data) > max_bytes:
                        raise MediaTooLarge(f"The file is larger than {max_bytes} bytes.")
                    if time.monotonic() > deadline:
                        raise FetchFailed(f"{host} took too long to send the file.")
            except urllib3.exceptions.HTTPError as exc:
                raise FetchFailed(f"Could not fetch {host}: {type(exc).__name__}.") from exc
            name = path.split("?", 1)[0].rsplit("/", 1)[-1][:255]
            return FetchedFile(data=bytes(data), url=url, name=name)
        finally:
            response.release_conn()
            pool.close()

    raise TooManyRedirects(f"More than {max_redirects} redirects.")
