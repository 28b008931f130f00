"""docker/compose.yml mirrors `make stack`: the same processes with the same commands
(docker/Procfile), nginx as the only published port with the same config template, and the
routes of that template pointing where the Procfile's processes listen. (The images cannot be
pulled on the machines that run the suite, so compose is checked by reading it.)"""

import re
import shutil
import subprocess
from pathlib import Path

import yaml

from tests.services import need

DOCKER = Path(__file__).resolve().parents[2] / "docker"
TEMPLATE = DOCKER / "nginx" / "marketplace.conf.template"


def procfile() -> dict[str, str]:
    entries = {}
    for line in (DOCKER / "Procfile").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, command = line.partition(":")
            entries[name.strip()] = command.strip()
    return entries


def compose() -> dict:
    return yaml.safe_load((DOCKER / "compose.yml").read_text())


def locations(config: str) -> dict[str, dict[str, str]]:
    """`location <match> { directive args; ... }` blocks: match -> {directive: args}."""
    found = {}
    for match, body in re.findall(r"location\s+([^{]+?)\s*\{(.*?)\n\s*\}", config, re.S):
        directives = {}
        for statement in body.split(";"):
            words = re.sub(r"#[^\n]*", "", statement).split()
            if words:
                directives[words[0]] = " ".join(words[1:])
        found[match] = directives
    return found


def upstreams(config: str) -> dict[str, str]:
    return dict(re.findall(r"upstream\s+(\w+)\s*\{\s*server\s+([^;\s]+);", config))


def test_compose_runs_the_procfile_processes_with_the_same_commands():
    services = compose()["services"]
    for name, command in procfile().items():
        if name == "nginx":
            continue  # the nginx image runs nginx; its config is checked below
        assert name in services, name
        assert services[name]["command"] == command, name


def test_nginx_is_the_only_published_port_and_uses_the_stacks_template():
    services = compose()["services"]
    published = {name for name, service in services.items() if service.get("ports")}
    assert published == {"nginx"}
    nginx = services["nginx"]
    mounted = [volume.split(":") for volume in nginx["volumes"]]
    template = next(source for source, target, *_ in mounted if target.startswith("/etc/nginx/"))
    assert (DOCKER / template).resolve() == TEMPLATE
    assert set(nginx["depends_on"]) == {"web", "stream"}
    placeholders = set(re.findall(r"\$\{(NGINX_\w+)\}", TEMPLATE.read_text()))
    assert placeholders == set(nginx["environment"])


def test_nginx_routes_point_where_the_processes_listen():
    services = compose()["services"]
    env = services["nginx"]["environment"]
    config = TEMPLATE.read_text()
    routes = locations(config)
    ups = upstreams(config)
    assert routes["= /api/v1/notifications/stream"]["proxy_pass"] == "http://marketplace_stream"
    assert routes["= /api/v1/notifications/stream"]["proxy_buffering"] == "off"
    assert routes["/"]["proxy_pass"] == "http://marketplace_web"
    catalog = next(v for k, v in routes.items() if k.startswith("~ ^/api/v1/(products"))
    assert catalog["proxy_pass"] == "http://marketplace_web"
    assert catalog["proxy_cache"] == "marketplace_catalog"
    assert routes["/static/"]["alias"] == "${NGINX_STATIC_ROOT}/"
    assert ups == {
        "marketplace_web": "${NGINX_WEB_UPSTREAM}",
        "marketplace_stream": "${NGINX_STREAM_UPSTREAM}",
    }
    # compose: the upstreams are the web and stream services on the ports they bind.
    web_host, web_port = env["NGINX_WEB_UPSTREAM"].split(":")
    assert web_host == "web"
    assert services["web"]["environment"]["GUNICORN_BIND"] == f"0.0.0.0:{web_port}"
    stream_host, stream_port = env["NGINX_STREAM_UPSTREAM"].split(":")
    assert stream_host == "stream"
    assert services["stream"]["environment"]["UVICORN_PORT"] == stream_port
    assert "uvicorn config.asgi:application" in procfile()["stream"]
    assert "gunicorn config.wsgi" in procfile()["web"]
    # The static files nginx serves are the ones web's image collected.
    static = next(
        v for v in services["nginx"]["volumes"] if v.split(":")[1] == env["NGINX_STATIC_ROOT"]
    )
    assert static.split(":")[0] + ":/app/var/static" in services["web"]["volumes"]


def test_the_rendered_template_is_valid_nginx(tmp_path):
    nginx = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
    need(nginx is not None, "nginx is not installed (make stack installs it)")
    import sys

    sys.path.insert(0, str(DOCKER))
    try:
        import stack
    finally:
        sys.path.remove(str(DOCKER))
    env = compose()["services"]["nginx"]["environment"]
    values = {**env, "NGINX_CACHE_DIR": str(tmp_path / "cache"), "NGINX_STATIC_ROOT": str(tmp_path)}
    values["NGINX_WEB_UPSTREAM"] = "127.0.0.1:1"  # names of compose's network do not resolve here
    values["NGINX_STREAM_UPSTREAM"] = "127.0.0.1:2"
    (tmp_path / "marketplace.conf").write_text(stack.render(TEMPLATE.read_text(), values))
    (tmp_path / "tmp").mkdir()
    (tmp_path / "nginx.conf").write_text(
        "pid nginx.pid; error_log stderr; events {}\n"
        "http { include /etc/nginx/mime.types; client_body_temp_path tmp; proxy_temp_path tmp;"
        " fastcgi_temp_path tmp; uwsgi_temp_path tmp; scgi_temp_path tmp;"
        " include marketplace.conf; }\n"
    )
    result = subprocess.run(
        [nginx, "-t", "-e", "stderr", "-p", str(tmp_path), "-c", "nginx.conf"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


def test_compose_migrates_before_any_app_process_starts():
    services = compose()["services"]
    assert services["migrate"]["command"] == "python manage.py migrate --noinput"
    for name in procfile():
        if name != "nginx":
            assert services[name]["depends_on"]["migrate"] == {
                "condition": "service_completed_successfully"
            }, name
