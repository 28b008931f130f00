"""POST /api/v1/media/from-url: SSRF refusals before any connection, and real fetches over TLS."""

import socket
import ssl
import threading
import time

import pytest

from apps.media.models import MediaAsset
from apps.media.remote_fetch import NOT_PUBLIC, address_is_public
from tests.assertions import assert_problem
from tests.media.files import stored_files
from tests.media.images import image_bytes, noisy_png
from tests.media.tls_server import start_image_host

pytestmark = pytest.mark.django_db

URL = "/api/v1/media/from-url"
PUBLIC_IP = "93.184.215.14"  # what the fake DNS answers for the image host
_real_getaddrinfo = socket.getaddrinfo


class FakeDns:
    """Answers for chosen names; everything else (numeric literals, localhost) resolves for
    real. DNS is outside the system: this stands in for what a resolver could be made to say."""

    def __init__(self, answers: dict[str, list[str]]):
        self.answers = answers
        self.queries: list[str] = []

    def __call__(self, host, port, family=0, type=0, proto=0, flags=0):
        name = host.decode() if isinstance(host, bytes) else host
        if name in self.answers:
            self.queries.append(name)
            return [
                (
                    socket.AF_INET6 if ":" in ip else socket.AF_INET,
                    socket.SOCK_STREAM,
                    socket.IPPROTO_TCP,
                    "",
                    (ip, port, 0, 0) if ":" in ip else (ip, port),
                )
                for ip in self.answers[name]
            ]
        return _real_getaddrinfo(host, port, family, type, proto, flags)


class NoConnections:
    """Fails the test on any attempt to open a connection through urllib3 or socket."""

    def __init__(self):
        self.attempts: list[object] = []

    def __call__(self, address, *args, **kwargs):
        self.attempts.append(address)
        raise AssertionError(f"a connection to {address} was attempted")


@pytest.fixture
def no_connections(monkeypatch):
    guard = NoConnections()
    monkeypatch.setattr(socket, "create_connection", guard)
    return guard


FORBIDDEN = {
    "loopback": ["127.0.0.1"],
    "loopback-other": ["127.1.2.3"],
    "private-10": ["10.0.0.5"],
    "private-172": ["172.16.3.4"],
    "private-192": ["192.168.1.1"],
    "carrier-nat": ["100.64.0.1"],
    "link-local": ["169.254.10.10"],
    "metadata": ["169.254.169.254"],
    "unspecified": ["0.0.0.0"],
    "this-network": ["0.1.2.3"],
    "multicast": ["224.0.0.251"],
    "reserved": ["240.0.0.1"],
    "broadcast": ["255.255.255.255"],
    "test-net": ["192.0.2.10"],
    "ipv6-loopback": ["::1"],
    "ipv6-unspecified": ["::"],
    "ipv6-link-local": ["fe80::1"],
    "ipv6-unique-local-fd": ["fd00::1"],
    "ipv6-unique-local-fc": ["fc00::1"],
    "ipv6-site-local": ["fec0::1"],
    "ipv6-multicast": ["ff02::1"],
    "ipv4-mapped-loopback": ["::ffff:127.0.0.1"],
    "ipv4-mapped-metadata": ["::ffff:169.254.169.254"],
    "6to4-loopback": ["2002:7f00:1::"],
    "6to4-private": ["2002:a00:1::1"],
    "nat64-private": ["64:ff9b::a00:1"],
    "nat64-local-use": ["64:ff9b:1::a00:1"],
    "teredo-private-client": ["2001:0:4136:e378:8000:63bf:f5ff:fffe"],
    "documentation-v6": ["2001:db8::1"],
    "one-bad-among-good": [PUBLIC_IP, "10.0.0.1"],
}


@pytest.mark.parametrize("addresses", list(FORBIDDEN.values()), ids=list(FORBIDDEN))
def test_host_resolving_to_a_forbidden_address_is_refused_without_connecting(
    user_client, monkeypatch, no_connections, settings, addresses
):
    dns = FakeDns({"images.evil.example": addresses})
    monkeypatch.setattr(socket, "getaddrinfo", dns)

    response = user_client.post(URL, {"url": "https://images.evil.example/cat.png"})

    assert_problem(response, 400, "media.forbidden_address")
    # One answer for every form: nothing tells the caller what the name resolves to.
    assert response.json()["detail"] == NOT_PUBLIC
    assert not any(address in response.content.decode() for address in addresses)
    assert dns.queries == ["images.evil.example"]  # resolved once
    assert no_connections.attempts == []
    assert MediaAsset.objects.count() == 0
    assert stored_files(settings.MEDIA_ROOT) == []


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/cat.png",
        "https://[::1]/cat.png",
        "https://2130706433/cat.png",  # 127.0.0.1 as one decimal number
        "https://0x7f.1/cat.png",
        "https://localhost/cat.png",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::ffff:a9fe:a9fe]/latest/meta-data/",
    ],
)
def test_literal_and_local_hosts_are_refused_without_connecting(user_client, no_connections, url):
    response = user_client.post(URL, {"url": url})

    assert_problem(response, 400, "media.forbidden_address")
    assert response.json()["detail"] == NOT_PUBLIC
    assert no_connections.attempts == []


def test_a_name_that_does_not_resolve_reads_like_a_private_one(
    user_client, monkeypatch, no_connections
):
    """Otherwise the difference would tell which internal names exist."""

    def no_such_name(host, *args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_name)

    response = user_client.post(URL, {"url": "https://db.internal.example/x.png"})

    assert_problem(response, 400, "media.forbidden_address")
    assert response.json()["detail"] == NOT_PUBLIC
    assert no_connections.attempts == []


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("http://images.example.com/cat.png", "media.https_required"),
        ("ftp://images.example.com/cat.png", "media.https_required"),
        ("file:///etc/passwd", "media.https_required"),
        ("images.example.com/cat.png", "media.https_required"),
        ("https://user:secret@images.example.com/cat.png", "media.invalid_url"),
        ("https://images.example.com:8443/cat.png", "media.invalid_url"),
        ("https://images.example.com:99999/cat.png", "media.invalid_url"),
        ("https:///cat.png", "media.invalid_url"),
    ],
)
def test_non_https_and_odd_urls_are_refused_without_resolving(
    user_client, monkeypatch, no_connections, url, code
):
    dns = FakeDns({})
    monkeypatch.setattr(socket, "getaddrinfo", dns)

    response = user_client.post(URL, {"url": url})

    assert_problem(response, 400, code)
    assert dns.queries == []
    assert no_connections.attempts == []


def test_missing_url_is_400_and_anonymous_is_401(user_client, api_client):
    assert_problem(user_client.post(URL, {}), 400, "invalid")
    assert_problem(
        api_client.post(URL, {"url": "https://x.example/a.png"}), 401, "auth.not_authenticated"
    )


@pytest.mark.parametrize(
    "ip", ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111", "2002:5db8:d70e::1"]
)
def test_public_addresses_are_allowed(ip):
    import ipaddress

    assert address_is_public(ipaddress.ip_address(ip))


# --- real fetches over TLS ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def image_host(tmp_path_factory):
    host, server = start_image_host(
        tmp_path_factory.mktemp("tls"), ["images.example.com", "cdn.example.com"]
    )
    yield host
    server.shutdown()
    server.server_close()


@pytest.fixture
def network(image_host, monkeypatch, settings):
    """DNS: the image hosts have one public address, `internal.example` a private one. Routing:
    only that public address on 443 reaches the test server; any other connection fails."""
    image_host.requests.clear()
    image_host.server_names.clear()
    settings.MEDIA_FETCH_CA_BUNDLE = str(image_host.ca_bundle)
    dns = FakeDns(
        {
            "images.example.com": [PUBLIC_IP],
            "cdn.example.com": [PUBLIC_IP],
            "wrong-cert.example.com": [PUBLIC_IP],
            "internal.example": ["10.1.2.3"],
        }
    )
    monkeypatch.setattr(socket, "getaddrinfo", dns)
    dialed: list[tuple] = []
    real_create_connection = socket.create_connection

    def route(address, timeout=None, source_address=None, **options):
        dialed.append(address)
        if tuple(address) != (PUBLIC_IP, 443):
            raise AssertionError(f"dialed {address}, not the checked address")
        return real_create_connection(("127.0.0.1", image_host.port), timeout)

    monkeypatch.setattr(socket, "create_connection", route)
    return {"dns": dns, "dialed": dialed, "host": image_host}


def test_fetch_stores_the_image_like_an_upload(user, user_client, network, settings):
    png = image_bytes("PNG", (64, 48))
    network["host"].route("/pics/cat.png?size=big", body=png, Content_Type="image/png")

    response = user_client.post(URL, {"url": "https://images.example.com/pics/cat.png?size=big"})

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["width"], body["height"], body["content_type"]) == (64, 48, "image/png")
    asset = MediaAsset.objects.get(pk=body["id"])
    assert asset.owner == user
    assert asset.source_url == "https://images.example.com/pics/cat.png?size=big"
    assert asset.original_name == "cat.png"
    assert asset.status == "processing"  # the worker (after commit) verifies and cleans it
    assert (settings.MEDIA_ROOT / "incoming" / asset.storage_key).read_bytes() == png
    # Dialed the checked address; TLS and HTTP still named the host.
    assert network["dialed"] == [(PUBLIC_IP, 443)]
    assert network["host"].server_names == ["images.example.com"]
    assert network["host"].requests == [
        {"path": "/pics/cat.png?size=big", "host": "images.example.com"}
    ]


def test_redirects_are_followed_and_each_hop_rechecked(user_client, network):
    host = network["host"]
    host.route("/start", 302, Location="https://cdn.example.com/next")
    host.route("/next", 301, Location="/final.png")
    host.route("/final.png", body=image_bytes("GIF"))

    response = user_client.post(URL, {"url": "https://images.example.com/start"})

    assert response.status_code == 201, response.content
    assert network["dns"].queries == ["images.example.com", "cdn.example.com", "cdn.example.com"]
    assert [r["host"] for r in host.requests] == [
        "images.example.com",
        "cdn.example.com",
        "cdn.example.com",
    ]


def test_a_redirect_to_a_private_address_is_refused_before_connecting(user_client, network):
    network["host"].route("/go", 302, Location="https://internal.example/admin")

    response = user_client.post(URL, {"url": "https://images.example.com/go"})

    assert_problem(response, 400, "media.forbidden_address")
    assert network["dialed"] == [(PUBLIC_IP, 443)]  # only the first, public hop
    assert MediaAsset.objects.count() == 0


def test_a_redirect_to_http_is_refused(user_client, network):
    network["host"].route("/go", 307, Location="http://images.example.com/cat.png")

    response = user_client.post(URL, {"url": "https://images.example.com/go"})

    assert_problem(response, 400, "media.https_required")
    assert len(network["dialed"]) == 1


def test_more_than_three_redirects_are_refused(user_client, network):
    network["host"].route("/loop", 302, Location="/loop")

    response = user_client.post(URL, {"url": "https://images.example.com/loop"})

    assert_problem(response, 400, "media.too_many_redirects")
    assert len(network["dialed"]) == 4  # the first request and three redirects


def test_a_certificate_for_another_name_is_refused(user_client, network):
    network["host"].route("/cat.png", body=image_bytes("PNG"))

    response = user_client.post(URL, {"url": "https://wrong-cert.example.com/cat.png"})

    assert_problem(response, 400, "media.fetch_failed")
    assert network["host"].requests == []


def test_size_is_capped_by_content_length_and_while_streaming(user_client, network, settings):
    settings.MEDIA_MAX_BYTES = 4096
    big = noisy_png((64, 64))
    network["host"].route("/declared.png", body=big)
    network["host"].route("/undeclared.png", body=big, Content_Length="")

    declared = user_client.post(URL, {"url": "https://images.example.com/declared.png"})
    streamed = user_client.post(URL, {"url": "https://images.example.com/undeclared.png"})

    assert_problem(declared, 413, "media.too_large")
    assert_problem(streamed, 413, "media.too_large")
    assert declared.json()["detail"] == f"The file is {len(big)} bytes; at most 4096."
    assert streamed.json()["detail"] == "The file is larger than 4096 bytes."
    assert MediaAsset.objects.count() == 0
    assert stored_files(settings.MEDIA_ROOT) == []


def test_http_errors_and_non_images_are_refused(user_client, network, settings):
    network["host"].route("/page.html", body=b"<html>not an image</html>", Content_Type="image/png")

    assert_problem(
        user_client.post(URL, {"url": "https://images.example.com/nothing-here.png"}),
        400,
        "media.fetch_failed",
    )
    assert_problem(
        user_client.post(URL, {"url": "https://images.example.com/page.html"}),
        400,
        "media.invalid_image",
    )
    assert MediaAsset.objects.count() == 0
    assert stored_files(settings.MEDIA_ROOT) == []


# --- the deadline holds across connect, TLS, redirects and headers ----------------------------


class SlowHost:
    """An HTTPS server on loopback, in this suite's port range (23000-23999), that answers every
    request slowly in one of two ways: `trickle` sends the status line and then a header one
    byte at a time, each well within the per-read timeout; `slow_redirect` waits just under the
    timeout and redirects to the next path. Every loop is bounded, and the server stops with the
    test."""

    def __init__(self, directory, mode: str, step: float, limit: float = 8.0):
        from tests.media.tls_server import make_certificates

        self.ca_bundle, cert, key = make_certificates(directory, ["slow.example.com"])
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.load_cert_chain(cert, key)
        self.mode, self.step, self.limit = mode, step, limit
        self.requests = 0
        self.listener = socket.socket()
        for port in range(23000 + (threading.get_native_id() % 900), 24000):
            try:
                self.listener.bind(("127.0.0.1", port))
                break
            except OSError:
                continue
        self.port = self.listener.getsockname()[1]
        self.listener.listen(8)
        self.listener.settimeout(0.2)
        self.stopped = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopped.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                continue
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        started = time.monotonic()
        try:
            with self.context.wrap_socket(conn, server_side=True) as tls:
                request = tls.recv(4096)
                self.requests += 1
                if self.mode == "trickle":
                    tls.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
                    while not self.stopped.is_set() and time.monotonic() - started < self.limit:
                        tls.sendall(b"a")
                        time.sleep(self.step)
                else:
                    time.sleep(self.step)
                    path = request.split(b" ", 2)[1].decode()
                    tls.sendall(
                        f"HTTP/1.1 302 Found\r\nLocation: {path}x\r\n"
                        "Content-Length: 0\r\n\r\n".encode()
                    )
        except OSError:
            pass

    def stop(self):
        self.stopped.set()
        self.listener.close()


@pytest.fixture
def slow_network(monkeypatch, settings, tmp_path):
    """A factory: route slow.example.com (a public address in DNS) to a SlowHost on loopback."""
    hosts = []
    monkeypatch.setattr(socket, "getaddrinfo", FakeDns({"slow.example.com": [PUBLIC_IP]}))
    real_create_connection = socket.create_connection

    def start(mode: str, step: float) -> SlowHost:
        host = SlowHost(tmp_path, mode, step)
        hosts.append(host)
        settings.MEDIA_FETCH_CA_BUNDLE = str(host.ca_bundle)

        def route(address, timeout=None, *args, **kwargs):
            assert tuple(address) == (PUBLIC_IP, 443)
            return real_create_connection(("127.0.0.1", host.port), timeout)

        monkeypatch.setattr(socket, "create_connection", route)
        return host

    yield start
    for host in hosts:
        host.stop()


def test_headers_trickled_byte_by_byte_cannot_outlast_the_deadline(
    user_client, settings, slow_network
):
    """Each byte comes well within the 0.5 s read timeout; the whole fetch still ends at its
    1 s deadline (the deadline used to be checked only while reading the body)."""
    settings.MEDIA_FETCH_TIMEOUT = 0.5
    slow_network("trickle", step=0.05)

    started = time.monotonic()
    response = user_client.post(URL, {"url": "https://slow.example.com/cat.png"})
    elapsed = time.monotonic() - started

    assert_problem(response, 400, "media.fetch_failed")
    assert response.json()["detail"] == "slow.example.com took too long to answer (at most 1 s)."
    assert elapsed < 3  # the deadline plus scheduling slack, far below the 8 s of trickle
    assert MediaAsset.objects.count() == 0


def test_redirect_hops_each_within_the_timeout_cannot_outlast_the_deadline(
    user_client, settings, slow_network
):
    """Three hops of 0.4 s each (under the 0.5 s timeout) exceed the fetch's 1 s deadline."""
    settings.MEDIA_FETCH_TIMEOUT = 0.5
    host = slow_network("slow_redirect", step=0.4)

    response = user_client.post(URL, {"url": "https://slow.example.com/a"})

    assert_problem(response, 400, "media.fetch_failed")
    assert response.json()["detail"] == "slow.example.com took too long to answer (at most 1 s)."
    assert host.requests == 3  # the third hop ran into the deadline; no fourth was made
