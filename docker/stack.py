"""`make stack`: the production topology on this machine, behind one port.

nginx on PORT (default 8080) in front of gunicorn (API, admin) and uvicorn (the SSE stream), with
a Celery worker, beat and the event relay: docker/Procfile, run by honcho (Ctrl-C stops them all;
each line of output is prefixed with its process's name). Before that it migrates, collects the
static files and, with SEED_DEMO=1, loads the demo data.

Settings are config.settings.prod against the services named by DATABASE_URL, REDIS_URL,
CELERY_BROKER_URL and KAFKA_BOOTSTRAP_SERVERS. What is not set gets a value that works on this
machine's loopback, and the script prints each one it chose:

- the local PostgreSQL (database `marketplace`, created if missing), Redis and RabbitMQ; Kafka off;
- SECRET_KEY: a strong random key generated once and kept in var/secret_key;
- ALLOWED_HOSTS 127.0.0.1,localhost; when every allowed host is a loopback name, the HTTPS-only
  settings are relaxed (no SSL redirect, no HSTS, cookies without the Secure flag), since the
  stack serves plain HTTP there;
- NUM_PROXIES=1 (nginx is the proxy: client addresses come from its X-Forwarded-For);
- Prometheus metrics on, for loopback clients (METRICS_ALLOWED_IPS), shared by every process
  through PROMETHEUS_MULTIPROC_DIR.

Internal addresses: gunicorn on GUNICORN_BIND (127.0.0.1:PORT+1), uvicorn on UVICORN_PORT
(PORT+2). Files of a run (the rendered nginx config, its cache and temp files, metrics, the beat
schedule) live in STACK_DIR (var/stack).
"""

import ipaddress
import os
import pwd
import secrets
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "docker" / "nginx" / "marketplace.conf.template"
PROCFILE = ROOT / "docker" / "Procfile"
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1", "[::1]"}
MAX_BODY_SIZE = "12m"  # MEDIA_MAX_BYTES (10 MB) and multipart overhead


def say(message: str) -> None:
    print(f"[stack] {message}", flush=True)


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def render(template: str, values: dict[str, str]) -> str:
    """Substitute `${NAME}` as the nginx image's envsubst does for the variables it is given."""
    for name, value in values.items():
        template = template.replace("${" + name + "}", value)
    if "${NGINX_" in template:
        raise SystemExit("unfilled ${NGINX_...} placeholder in the nginx template")
    return template


def secret_key(var_dir: Path) -> str:
    path = var_dir / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(64))
        path.chmod(0o600)
        say(f"SECRET_KEY: generated a new one in {path} (kept for the next runs)")
    else:
        say(f"SECRET_KEY: from {path}")
    return path.read_text().strip()


def configure(env: dict[str, str]) -> dict[str, str]:
    """Fill in what the environment leaves unset; print what was chosen."""

    def default(name: str, value: str, why: str = "") -> None:
        if not env.get(name):
            env[name] = value
            say(f"{name}={value}" + (f"  ({why})" if why else ""))

    port = int(env.get("PORT") or 8080)
    env["PORT"] = str(port)
    var_dir = ROOT / "var"
    var_dir.mkdir(exist_ok=True)
    default("STACK_DIR", str(var_dir / "stack"))
    stack_dir = Path(env["STACK_DIR"]).resolve()
    env["STACK_DIR"] = str(stack_dir)
    default("DJANGO_SETTINGS_MODULE", "config.settings.prod")
    default("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/marketplace", "local PostgreSQL")
    default("REDIS_URL", "redis://127.0.0.1:6379/0", "local Redis")
    default("CELERY_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//", "local RabbitMQ")
    if not env.get("KAFKA_BOOTSTRAP_SERVERS"):
        say("KAFKA_BOOTSTRAP_SERVERS unset: Kafka off (events still reach the subscribers)")
    if not env.get("SECRET_KEY"):
        env["SECRET_KEY"] = secret_key(var_dir)
    default("ALLOWED_HOSTS", "127.0.0.1,localhost")
    hosts = [h.strip() for h in env["ALLOWED_HOSTS"].split(",") if h.strip()]
    if hosts and all(is_loopback(h) for h in hosts):
        why = "loopback only: plain HTTP"
        default("SECURE_SSL_REDIRECT", "false", why)
        default("SECURE_HSTS_SECONDS", "0", why)
        default("SESSION_COOKIE_SECURE", "false", why)
        default("CSRF_COOKIE_SECURE", "false", why)
        default(
            "CSRF_TRUSTED_ORIGINS",
            f"http://127.0.0.1:{port},http://localhost:{port}",
            "the admin's forms through nginx",
        )
        default("METRICS_ENABLED", "true", "/metrics for loopback clients")
        default("METRICS_ALLOWED_IPS", "127.0.0.1,::1")
    if not env.get("REQUIRE_EMAIL_VERIFICATION"):
        say(
            "REQUIRE_EMAIL_VERIFICATION unset: on, as in production; a new account orders, "
            "reviews, uploads or streams once it opened the link of its verification e-mail"
            + ("" if env.get("EMAIL_HOST") else " (printed here: no EMAIL_HOST)")
            + ". REQUIRE_EMAIL_VERIFICATION=false turns it off"
        )
    if not env.get("ADMIN_REQUIRE_2FA"):
        say(
            "ADMIN_REQUIRE_2FA unset: on, as in production; staff sign in to /admin/ with a TOTP "
            "code: enrol a device with `manage.py admin_totp_device_add <email>` (or "
            "ADMIN_REQUIRE_2FA=false)"
        )
    if not env.get("EMAIL_HOST"):
        default(
            "EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend", "no EMAIL_HOST set"
        )
    default("NUM_PROXIES", "1", "nginx in front")
    default("GUNICORN_BIND", f"127.0.0.1:{port + 1}")
    default("UVICORN_HOST", "127.0.0.1")
    default("UVICORN_PORT", str(port + 2))
    default("PROMETHEUS_MULTIPROC_DIR", str(stack_dir / "metrics"))
    default("CELERY_BEAT_SCHEDULE_FILENAME", str(stack_dir / "celerybeat-schedule"))
    default("STATIC_ROOT", str(var_dir / "static"))
    env["PYTHONUNBUFFERED"] = "1"
    # The project's virtualenv first (gunicorn, celery...), and nginx where Debian puts it.
    env["PATH"] = os.pathsep.join(
        [str(Path(sys.executable).parent), env.get("PATH", ""), "/usr/sbin"]
    )
    return env


def create_database(env: dict[str, str]) -> None:
    url = urlparse(env["DATABASE_URL"])
    if not url.scheme.startswith("postgres"):
        return
    import psycopg
    from psycopg import sql

    name = url.path.lstrip("/")
    admin_url = url._replace(path="/postgres").geturl()
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            return
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        say(f"created the database {name}")


def manage(env: dict[str, str], *args: str) -> None:
    # Not in the stack's metrics: migrations and demo orders are no traffic.
    env = {k: v for k, v in env.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True)


def write_nginx_config(env: dict[str, str]) -> None:
    stack_dir = Path(env["STACK_DIR"])
    for sub in ("tmp", "cache"):
        (stack_dir / sub).mkdir(parents=True, exist_ok=True)
    site = render(
        TEMPLATE.read_text(),
        {
            "NGINX_PORT": env["PORT"],
            "NGINX_WEB_UPSTREAM": env["GUNICORN_BIND"],
            "NGINX_STREAM_UPSTREAM": f"{env['UVICORN_HOST']}:{env['UVICORN_PORT']}",
            "NGINX_STATIC_ROOT": str(Path(env["STATIC_ROOT"]).resolve()),
            "NGINX_CACHE_DIR": str(stack_dir / "cache"),
            "NGINX_MAX_BODY_SIZE": MAX_BODY_SIZE,
        },
    )
    (stack_dir / "marketplace.conf").write_text(site)
    # nginx started by root runs its workers as `nobody`, who cannot read a private checkout.
    user = f"user {pwd.getpwuid(os.geteuid()).pw_name};\n" if os.geteuid() == 0 else ""
    temp = "".join(
        f"    {kind}_temp_path tmp/{kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    (stack_dir / "nginx.conf").write_text(
        f"{user}worker_processes 2;\npid nginx.pid;\nerror_log stderr warn;\n"
        "events { worker_connections 4096; }\n"
        "http {\n    include /etc/nginx/mime.types;\n    default_type application/octet-stream;\n"
        f"    sendfile on;\n{temp}    include marketplace.conf;\n}}\n"
    )
    nginx = shutil.which("nginx", path=env["PATH"])
    if nginx is None:
        raise SystemExit("nginx is not installed (make stack installs Debian's package)")
    subprocess.run(
        [nginx, "-q", "-t", "-e", "stderr", "-p", str(stack_dir), "-c", "nginx.conf"],
        env=env,
        check=True,
    )


def main() -> None:
    os.chdir(ROOT)
    env = configure(dict(os.environ))
    create_database(env)
    manage(env, "migrate", "--noinput")
    manage(env, "collectstatic", "--noinput", "--verbosity", "0")
    if env.get("SEED_DEMO") == "1":
        manage(env, "seed_demo", "--base-url", f"http://127.0.0.1:{env['PORT']}")
    write_nginx_config(env)
    # Counters start from zero with the stack (and count nothing of the setup above).
    metrics_dir = Path(env["PROMETHEUS_MULTIPROC_DIR"])
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True)
    base = f"http://127.0.0.1:{env['PORT']}"
    say(
        f"API {base}/api/v1/ · docs {base}/api/docs/ · admin {base}/admin/ · metrics {base}/metrics"
    )
    say("Ctrl-C stops every process")
    honcho = str(Path(sys.executable).parent / "honcho")
    # `-e` an empty file: honcho would otherwise read .env over what was chosen above.
    os.execve(
        honcho,
        [honcho, "start", "-f", str(PROCFILE), "-d", str(ROOT), "-e", os.devnull],
        env,
    )


if __name__ == "__main__":
    main()
