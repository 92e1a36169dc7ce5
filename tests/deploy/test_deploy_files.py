"""deploy/ checked by its own tools: the config by `load_settings`, nginx by `nginx -t` and
by a real nginx in front of the real app, the systemd units by `systemd-analyze`, the
Containerfile by reading its instructions (and building it where a container engine runs).

The production files name production paths (/etc/letsencrypt, /opt/m5syndicate/venv,
ports 80 and 443). A test swaps exactly those for temporary ones through `swapped()`,
which fails when a path it expects is no longer in the file: the file checked is the
shipped one, and a test cannot go on passing over text that was changed under it.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import pwd
import re
import shlex
import shutil
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from m5syndicate.config import Settings, load_settings
from m5syndicate.errors import ConfigError
from m5syndicate.store.engine import make_engine
from m5syndicate.store.migrate import upgrade
from tests.conftest import REPO
from tests.servers import free_port
from tests.web_support import running_site

DEPLOY = REPO / "deploy"
STATE_DIR = "/var/lib/m5syndicate"
CONFIG_PATH = "/etc/m5syndicate/m5syndicate.toml"
VENV_BINARY = "/opt/m5syndicate/venv/bin/m5syndicate"
CERT = "/etc/letsencrypt/live/bulten.example.org/fullchain.pem"
CERT_KEY = "/etc/letsencrypt/live/bulten.example.org/privkey.pem"
ALLOW_LIST = "/etc/nginx/snippets/m5syndicate-allow.conf"
ACCESS_LOG = "/var/log/nginx/m5syndicate.access.log"
# What the environment file gives the service; the TOML must not hold it.
PRODUCTION_ENV = {"M5_DELIVERY__SMTP_URL": "smtp://user:pass@relay.example.org:587"}
UNITS = ("m5syndicate.service", "m5syndicate-worker@.service")


def swapped(text: str, replacements: Mapping[str, str]) -> str:
    """``text`` with each key replaced by its value; every key must occur."""
    for old, new in replacements.items():
        assert old in text, f"{old!r} is no longer in the file; update this test with it"
        text = text.replace(old, new)
    return text


def production_settings() -> Settings:
    return load_settings(DEPLOY / "m5syndicate.toml", env=PRODUCTION_ENV)


def nginx_text() -> str:
    return (DEPLOY / "nginx.conf").read_text(encoding="utf-8")


def location_block(conf: str, match: str) -> str:
    """The body of ``location <match> { ... }`` (blocks inside it are one level deep)."""
    found = re.search(rf"location\s+{re.escape(match)}\s*\{{((?:[^{{}}]|\{{[^{{}}]*\}})*)\}}", conf)
    assert found, f"deploy/nginx.conf has no `location {match}`"
    return found.group(1)


def directive(block: str, name: str) -> list[str]:
    return [value.strip() for value in re.findall(rf"^\s*{name}\s+([^;]+);", block, re.M)]


# --- the production config ---------------------------------------------------------------


def test_production_config_loads_with_the_projects_own_loader() -> None:
    settings = production_settings()
    assert settings.delivery.transport == "smtp"
    assert settings.delivery.smtp_url == PRODUCTION_ENV["M5_DELIVERY__SMTP_URL"]
    assert settings.site.public_url.startswith("https://")
    assert [s.name for s in settings.sources] == ["m5dergi"]


def test_production_config_keeps_every_file_in_the_state_folder() -> None:
    settings = production_settings()
    database_file = settings.database.url.removeprefix("sqlite:///")
    for path in (database_file, settings.feeds.out_dir, settings.delivery.outbox_dir):
        assert Path(path).is_absolute(), path
        assert Path(path).is_relative_to(STATE_DIR), f"{path} is outside {STATE_DIR}"


def test_production_config_takes_the_smtp_url_only_from_the_environment() -> None:
    text = (DEPLOY / "m5syndicate.toml").read_text(encoding="utf-8")
    assert not re.search(r"^\s*smtp_url\s*=", text, re.M), "a password would sit in the file"
    with pytest.raises(ConfigError, match="M5_DELIVERY__SMTP_URL"):
        load_settings(DEPLOY / "m5syndicate.toml", env={})


# --- nginx -----------------------------------------------------------------------------


def test_nginx_serves_the_feeds_from_the_shipped_configs_out_dir() -> None:
    out_dir = production_settings().feeds.out_dir.rstrip("/")
    conf = nginx_text()
    assert directive(location_block(conf, "/feeds/"), "alias") == [f"{out_dir}/"]
    assert directive(location_block(conf, "= /feeds.opml"), "alias") == [f"{out_dir}/feeds.opml"]


def test_nginx_names_the_host_of_public_url() -> None:
    host = urlsplit(production_settings().site.public_url).hostname
    conf = nginx_text()
    assert set(directive(conf, "server_name")) == {host}
    assert set(directive(conf, "ssl_certificate")) == {
        f"/etc/letsencrypt/live/{host}/fullchain.pem"
    }


def test_nginx_keeps_metrics_and_the_admin_api_behind_the_allow_list() -> None:
    conf = nginx_text()
    for match in ("= /metrics", "/api/"):
        assert directive(location_block(conf, match), "include") == [ALLOW_LIST], match
    allow_list = (DEPLOY / "nginx-allow.conf").read_text(encoding="utf-8")
    rules = re.findall(r"^\s*(allow|deny)\s+([^;]+);", allow_list, re.M)
    assert rules[-1] == ("deny", "all"), "the allow-list must end with `deny all;`"
    assert ("allow", "0.0.0.0/0") not in rules and ("allow", "all") not in rules


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate for bulten.example.org and 127.0.0.1, as Let's Encrypt would lay it out."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bulten.example.org")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("bulten.example.org"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "fullchain.pem", folder / "privkey.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def nginx_prefix(folder: Path, site_conf: str) -> Path:
    """A minimal nginx.conf around the site, with every path nginx writes in ``folder``."""
    (folder / "site.conf").write_text(site_conf, encoding="utf-8")
    # As root, workers would drop to `nobody`, who cannot read pytest's private folders.
    user = f"user {pwd.getpwuid(os.geteuid()).pw_name};" if os.geteuid() == 0 else ""
    temp_paths = " ".join(
        f"{kind}_temp_path {folder / kind};" for kind in ("client_body", "proxy", "fastcgi")
    )
    wrapper = f"""
        {user}
        pid {folder / "nginx.pid"};
        error_log {folder / "error.log"};
        events {{ worker_connections 64; }}
        http {{
            access_log {folder / "http.access.log"};
            {temp_paths}
            uwsgi_temp_path {folder / "uwsgi"};
            scgi_temp_path {folder / "scgi"};
            include {folder / "site.conf"};
        }}
    """
    (folder / "nginx.conf").write_text(wrapper, encoding="utf-8")
    return folder / "nginx.conf"


def nginx_command(conf: Path, *args: str) -> list[str]:
    folder = str(conf.parent)
    return ["nginx", "-p", folder, "-e", f"{folder}/error.log", "-c", str(conf), *args]


def nginx_test_paths(folder: Path, allow_list: Path) -> dict[str, str]:
    cert, key = self_signed_certificate(folder)
    return {
        CERT: str(cert),
        CERT_KEY: str(key),
        ALLOW_LIST: str(allow_list),
        ACCESS_LOG: str(folder / "m5syndicate.access.log"),
    }


needs_nginx = pytest.mark.skipif(
    shutil.which("nginx") is None,
    reason="nginx is not installed (apt-get install nginx; .ci/run installs it)",
)


@needs_nginx
def test_nginx_t_accepts_the_shipped_conf(tmp_path: Path) -> None:
    paths = nginx_test_paths(tmp_path, DEPLOY / "nginx-allow.conf")
    conf = nginx_prefix(tmp_path, swapped(nginx_text(), paths))
    checked = subprocess.run(nginx_command(conf, "-t"), capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    assert "test is successful" in checked.stderr
    assert "[warn]" not in checked.stderr, checked.stderr


@needs_nginx
def test_nginx_t_catches_tls_without_a_certificate(tmp_path: Path) -> None:
    """The harness can fail: the bug the old conf had (`listen ... ssl`, no certificate)."""
    paths = nginx_test_paths(tmp_path, DEPLOY / "nginx-allow.conf")
    broken = re.sub(r"^\s*ssl_certificate(_key)?\s.*$", "", nginx_text(), flags=re.M)
    conf = nginx_prefix(
        tmp_path, swapped(broken, {k: v for k, v in paths.items() if "pem" not in k})
    )
    checked = subprocess.run(nginx_command(conf, "-t"), capture_output=True, text=True)
    assert checked.returncode != 0
    assert "ssl_certificate" in checked.stderr


@dataclass
class ProxiedSite:
    http_url: str
    https_url: str
    feeds: Path  # the folder nginx serves /feeds/ from
    folder: Path

    def client(self) -> httpx.Client:
        context = ssl.create_default_context(cafile=str(self.folder / "fullchain.pem"))
        return httpx.Client(verify=context, headers={"Host": "bulten.example.org"}, timeout=10)

    def access_log(self) -> str:
        return (self.folder / "m5syndicate.access.log").read_text(encoding="utf-8")


@contextmanager
def nginx_in_front_of_the_app(folder: Path, allow_rules: str) -> Iterator[ProxiedSite]:
    """nginx with the shipped conf on loopback ports, in front of the real app, with
    ``allow_rules`` as the operator's allow-list."""
    out_dir = production_settings().feeds.out_dir.rstrip("/")
    feeds = folder / "feeds"
    feeds.mkdir()
    allow_list = folder / "allow.conf"
    allow_list.write_text(allow_rules, encoding="utf-8")
    http_port, https_port = free_port(), free_port()
    engine = make_engine(f"sqlite:///{folder / 'm5.db'}")
    upgrade(engine)
    with running_site(engine, folder, M5_WEBHOOK_SECRET="hook-secret-for-tests") as site:
        site_conf = swapped(
            nginx_text(),
            {
                **nginx_test_paths(folder, allow_list),
                "listen 80;": f"listen 127.0.0.1:{http_port};",
                "listen [::]:80;": "",
                "listen 443 ssl http2;": f"listen 127.0.0.1:{https_port} ssl http2;",
                "listen [::]:443 ssl http2;": "",
                "server 127.0.0.1:8080;": f"server 127.0.0.1:{urlsplit(site.url).port};",
                f"{out_dir}/": f"{feeds}/",
            },
        )
        conf = nginx_prefix(folder, site_conf)
        started = subprocess.run(nginx_command(conf), capture_output=True, text=True)
        assert started.returncode == 0, started.stderr
        try:
            yield ProxiedSite(
                f"http://127.0.0.1:{http_port}", f"https://127.0.0.1:{https_port}", feeds, folder
            )
        finally:
            stop_nginx(conf)
    engine.dispose()


def stop_nginx(conf: Path) -> None:
    """Stop the master and wait until it is gone (it removes its pid file last)."""
    subprocess.run(nginx_command(conf, "-s", "stop"), capture_output=True)
    deadline = time.monotonic() + 10
    while (conf.parent / "nginx.pid").exists() and time.monotonic() < deadline:
        time.sleep(0.02)


ONLY_ANOTHER_ADDRESS = "allow 192.0.2.1;\ndeny all;\n"
LOOPBACK_LISTED = "allow 127.0.0.1;\ndeny all;\n"


@needs_nginx
def test_nginx_sends_port_80_to_https(tmp_path: Path) -> None:
    plain = httpx.Client(headers={"Host": "bulten.example.org"}, timeout=10)
    with nginx_in_front_of_the_app(tmp_path, ONLY_ANOTHER_ADDRESS) as site, plain:
        redirect = plain.get(f"{site.http_url}/feeds/tr.rss?x=1")
    assert redirect.status_code == 301
    assert redirect.headers["location"] == "https://bulten.example.org/feeds/tr.rss?x=1"


@needs_nginx
def test_nginx_serves_written_feeds_and_asks_the_app_for_others(tmp_path: Path) -> None:
    with nginx_in_front_of_the_app(tmp_path, ONLY_ANOTHER_ADDRESS) as site, site.client() as client:
        (site.feeds / "tr.rss").write_bytes(b"<rss>from the folder</rss>")
        (site.feeds / "feeds.opml").write_bytes(b"<opml/>")
        static = client.get(f"{site.https_url}/feeds/tr.rss")
        opml = client.get(f"{site.https_url}/feeds.opml")
        unknown = client.get(f"{site.https_url}/feeds/nope.rss")
    assert (static.status_code, static.content) == (200, b"<rss>from the folder</rss>")
    assert static.headers["content-type"] == "application/rss+xml; charset=utf-8"
    assert "max-age=300" in static.headers["cache-control"]
    assert "etag" in static.headers and "strict-transport-security" in static.headers
    assert (opml.status_code, opml.headers["content-type"]) == (200, "text/x-opml; charset=utf-8")
    # Not written yet: the app answers (here: it knows no such feed, and says so).
    assert unknown.status_code == 404 and "nope.rss" in unknown.text


@needs_nginx
def test_nginx_refuses_metrics_and_api_to_unlisted_addresses(tmp_path: Path) -> None:
    with nginx_in_front_of_the_app(tmp_path, ONLY_ANOTHER_ADDRESS) as site, site.client() as client:
        metrics = client.get(f"{site.https_url}/metrics")
        api = client.get(f"{site.https_url}/api/stats")
        hook = client.post(f"{site.https_url}/api/hooks/wordpress?secret=wrong")
        page = client.get(f"{site.https_url}/unsubscribe/secret-token-123")
        log = site.access_log()
    assert (metrics.status_code, api.status_code) == (403, 403)
    # The webhook reaches the app, which checks the secret.
    assert (hook.status_code, hook.json()) == (401, {"error": "unknown or missing webhook secret"})
    assert page.status_code < 500
    assert "/unsubscribe/REDACTED" in log and "secret-token-123" not in log
    assert "?secret=REDACTED" in log and "secret=wrong" not in log


@needs_nginx
def test_nginx_lets_listed_addresses_reach_metrics_and_api(tmp_path: Path) -> None:
    with nginx_in_front_of_the_app(tmp_path, LOOPBACK_LISTED) as site, site.client() as client:
        metrics = client.get(f"{site.https_url}/metrics")
        api = client.get(f"{site.https_url}/api/stats")
    assert metrics.status_code == 200 and "# TYPE" in metrics.text
    assert api.status_code == 401  # past nginx: the app asks for its bearer token


# --- systemd ---------------------------------------------------------------------------


def unit_entries(name: str) -> list[tuple[str, str, str]]:
    """(section, key, value) of each line; systemd allows a key more than once."""
    entries, section = [], ""
    for line in (DEPLOY / name).read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        entries.append((section, key.strip(), value.strip()))
    return entries


def unit_value(name: str, key: str) -> list[str]:
    return [value for _, k, value in unit_entries(name) if k == key]


def installed_binary() -> str:
    """The m5syndicate this test runs with: what /opt/m5syndicate/venv holds in production."""
    binary = Path(sys.executable).parent / "m5syndicate"
    assert binary.exists(), f"{binary} is missing; pip install -e . in this venv"
    return str(binary)


needs_systemd_analyze = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None,
    reason="systemd-analyze is not installed (Debian package systemd)",
)


def unit_for_test(name: str, folder: Path) -> Path:
    path = folder / name
    text = (DEPLOY / name).read_text(encoding="utf-8")
    path.write_text(swapped(text, {VENV_BINARY: installed_binary()}), encoding="utf-8")
    return path


@needs_systemd_analyze
@pytest.mark.parametrize("name", UNITS)
def test_unit_passes_systemd_analyze_verify(name: str, tmp_path: Path) -> None:
    checked = subprocess.run(
        ["systemd-analyze", "verify", str(unit_for_test(name, tmp_path))],
        capture_output=True,
        text=True,
    )
    # verify exits 0 on an unknown key and only warns: any output is a failure here.
    assert (checked.returncode, checked.stdout + checked.stderr) == (0, "")


@needs_systemd_analyze
@pytest.mark.parametrize("name", UNITS)
def test_unit_is_hardened(name: str, tmp_path: Path) -> None:
    # --threshold is in tenths: 20 means an exposure of 2.0 ("OK") at most.
    unit = str(unit_for_test(name, tmp_path))
    checked = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", "--threshold=20", unit],
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, checked.stdout[-2000:] + checked.stderr


@pytest.mark.parametrize("name", UNITS)
def test_unit_runs_commands_the_cli_has(name: str) -> None:
    commands = unit_value(name, "ExecStartPre") + unit_value(name, "ExecStart")
    ours = [shlex.split(c) for c in commands if c.startswith(VENV_BINARY)]
    assert ours and all(c.startswith(VENV_BINARY) or c.startswith("+/") for c in commands)
    for argv in ours:
        shown = subprocess.run(
            [installed_binary(), *argv[1:], "--help"], capture_output=True, text=True
        )
        assert shown.returncode == 0, f"{' '.join(argv)}: {shown.stderr}"


@pytest.mark.parametrize("name", UNITS)
def test_unit_runs_as_its_user_in_the_state_folder(name: str) -> None:
    settings = production_settings()
    assert unit_value(name, "User") == ["m5syndicate"]
    assert unit_value(name, "EnvironmentFile") == ["/etc/m5syndicate/env"]
    assert unit_value(name, "Environment") == [f"M5_CONFIG={CONFIG_PATH}"]
    assert unit_value(name, "StateDirectory") == ["m5syndicate"]
    assert unit_value(name, "WorkingDirectory") == [STATE_DIR]
    assert unit_value(name, "ProtectSystem") == ["strict"]
    assert Path(settings.delivery.outbox_dir).is_relative_to(STATE_DIR)


def test_main_unit_makes_the_feeds_folder_nginx_reads() -> None:
    out_dir = production_settings().feeds.out_dir
    made = [c for c in unit_value("m5syndicate.service", "ExecStartPre") if c.startswith("+")]
    assert made == [f"+/usr/bin/install -d -o m5syndicate -g www-data -m 2750 {out_dir}"]


# --- the container ---------------------------------------------------------------------


def container_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of deploy/Containerfile, continuation lines joined."""
    text = (DEPLOY / "Containerfile").read_text(encoding="utf-8")
    logical = re.sub(r"\\\n", " ", text)
    found = []
    for line in logical.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, arguments = line.partition(" ")
            found.append((keyword.upper(), arguments.strip()))
    return found


def container_values(keyword: str) -> list[str]:
    return [arguments for kw, arguments in container_instructions() if kw == keyword]


def test_container_listens_on_every_interface() -> None:
    (command,) = container_values("CMD")
    argv = json.loads(command)
    assert re.search(r"\bm5syndicate run --host 0\.0\.0\.0\b", " ".join(argv)), argv
    assert container_values("EXPOSE") == [str(production_settings().web.port)]


def test_container_runs_as_a_user_it_creates() -> None:
    (user,) = container_values("USER")
    assert user not in ("root", "0") and not user.startswith(("root:", "0:"))
    created = [run for run in container_values("RUN") if "useradd" in run]
    assert any(run.split()[-1] == user for run in created), f"nothing creates {user}"


def test_container_keeps_database_outbox_and_feeds_on_its_volume() -> None:
    volumes = [path for value in container_values("VOLUME") for path in json.loads(value)]
    assert volumes == [STATE_DIR]
    assert f"deploy/m5syndicate.toml {CONFIG_PATH}" in container_values("COPY")
    assert f"M5_CONFIG={CONFIG_PATH}" in container_values("ENV")
    settings = production_settings()
    database_file = settings.database.url.removeprefix("sqlite:///")
    for path in (database_file, settings.delivery.outbox_dir, settings.feeds.out_dir):
        assert Path(path).is_relative_to(volumes[0]), path


def test_container_checks_its_health() -> None:
    (check,) = container_values("HEALTHCHECK")
    port = production_settings().web.port
    assert f"http://127.0.0.1:{port}/healthz" in check


def container_engine() -> str | None:
    for engine in ("podman", "docker"):
        if (
            shutil.which(engine)
            and subprocess.run([engine, "info"], capture_output=True).returncode == 0
        ):
            return engine
    return None


@pytest.mark.slow
@pytest.mark.skipif(container_engine() is None, reason="no working podman or docker here")
def test_container_builds() -> None:
    engine = container_engine()
    assert engine is not None
    built = subprocess.run(
        [engine, "build", "-f", str(DEPLOY / "Containerfile"), "-t", "m5syndicate-test", str(REPO)],
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, built.stderr[-3000:]


# --- the operator's guide --------------------------------------------------------------


def test_deploy_readme_names_only_files_that_exist() -> None:
    guide = (DEPLOY / "README.md").read_text(encoding="utf-8")
    named = set(re.findall(r"\bdeploy/([\w@.-]+)", guide))
    assert named, "deploy/README.md names no deploy file"
    missing = sorted(name for name in named if not (DEPLOY / name.rstrip(".")).exists())
    assert not missing, f"deploy/README.md names missing files: {missing}"
    assert "../README.md#sending-mail" in guide
