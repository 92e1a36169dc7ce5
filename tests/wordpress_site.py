"""A real WordPress for tests: Debian's package, served by ``php -S`` on loopback, with a
fresh MariaDB database per test session.

    site = WordPressSite.start(tmp_dir)       # or the ``wordpress_site`` fixture
    post_id = site.insert_post("Başlık", "<p>Metin</p>")
    site.php("wp_trash_post(%d);" % post_id)  # WordPress's own PHP API, through wp-load.php
    site.stop()

Debian's /usr/share/wordpress/wp-config.php reads /etc/wordpress/config-HOST.php, a
machine-wide file. Instead the site is a folder of its own: the top-level PHP files are
copied (PHP resolves symlinks in ``__DIR__``, so a linked wp-load.php would find Debian's
wp-config.php again), wp-admin and wp-includes are linked, wp-content is a real folder
(themes and plugins linked, uploads writable) and wp-config.php is ours. WP-Cron is off:
tests publish scheduled posts the way cron does, by calling its hook's function.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.servers import free_port

WORDPRESS = Path("/usr/share/wordpress")
MARIADB = ("127.0.0.1", 3306)
WP_TIMEZONE = "Asia/Tokyo"  # not the service's zone: the walk must not depend on it
ROUTER = """<?php
// php -S router: real files are served as they are, everything else goes to WordPress.
$path = parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH);
if ($path !== '/' && is_file(__DIR__ . $path) && substr($path, -4) !== '.php') {
    return false;
}
$_SERVER['SCRIPT_NAME'] = '/index.php';
$_SERVER['SCRIPT_FILENAME'] = __DIR__ . '/index.php';
require __DIR__ . '/index.php';
"""
MU_PLUGIN = """<?php
// Tests only: no mail, no calls home.
add_filter('pre_wp_mail', '__return_false');
"""


class WordPressUnavailable(Exception):
    """Why a real WordPress cannot run here (the tests are skipped with this reason)."""


def php_binary() -> str:
    php = shutil.which("php")
    if not php:
        raise WordPressUnavailable("php is not installed (apt-get install php-cli php-mysql)")
    if not (WORDPRESS / "wp-load.php").exists():
        raise WordPressUnavailable(f"{WORDPRESS} is missing (apt-get install wordpress)")
    modules = subprocess.run([php, "-m"], capture_output=True, text=True, check=True).stdout
    if "mysqli" not in modules.split():
        raise WordPressUnavailable("PHP has no mysqli (apt-get install php-mysql)")
    return php


def run_php(php: str, code: str, cwd: Path | None = None) -> str:
    """``php -r code``; a PHP error or warning fails loudly with what PHP said."""
    done = subprocess.run(
        [php, "-d", "display_errors=stderr", "-r", code],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )
    if done.returncode != 0 or "Fatal error" in done.stderr:
        raise RuntimeError(f"php failed ({done.returncode}): {done.stderr or done.stdout}")
    return done.stdout


def mysql(php: str, statement: str) -> None:
    host, port = MARIADB
    code = (
        f"$db = @new mysqli('{host}', 'root', '', '', {port});"
        "if ($db->connect_errno) { fwrite(STDERR, $db->connect_error); exit(2); }"
        f"if (!$db->query({json.dumps(statement)})) {{ fwrite(STDERR, $db->error); exit(3); }}"
    )
    try:
        run_php(php, code)
    except RuntimeError as exc:
        raise WordPressUnavailable(f"MariaDB at {host}:{port} (root, no password): {exc}") from exc


def build_tree(root: Path, url: str, database: str) -> None:
    root.mkdir(parents=True)
    for entry in WORDPRESS.iterdir():
        if entry.name in ("wp-admin", "wp-includes"):
            (root / entry.name).symlink_to(entry)
        elif entry.is_file() and entry.suffix == ".php" and entry.name != "wp-config.php":
            shutil.copy(entry, root / entry.name)
    content = root / "wp-content"
    (content / "uploads").mkdir(parents=True)
    (content / "mu-plugins").mkdir()
    (content / "mu-plugins" / "m5-test.php").write_text(MU_PLUGIN)
    for name in ("themes", "plugins", "languages"):
        (content / name).symlink_to(WORDPRESS / "wp-content" / name)
    (root / "router.php").write_text(ROUTER)
    (root / "wp-config.php").write_text(wp_config(url, database, content))


def wp_config(url: str, database: str, content: Path) -> str:
    host, port = MARIADB
    constants = {
        "DB_NAME": database,
        "DB_USER": "root",
        "DB_PASSWORD": "",
        "DB_HOST": f"{host}:{port}",
        "DB_CHARSET": "utf8mb4",
        "WP_HOME": url,
        "WP_SITEURL": url,
        "WP_CONTENT_DIR": str(content),
        "WP_CONTENT_URL": f"{url}/wp-content",
        "DISABLE_WP_CRON": True,
        "WP_HTTP_BLOCK_EXTERNAL": True,
        "AUTOMATIC_UPDATER_DISABLED": True,
        "WP_DEBUG": False,
    }
    lines = [f"define({json.dumps(k)}, {json.dumps(v)});" for k, v in constants.items()]
    salts = [f"define('{k}', '{uuid.uuid4().hex}');" for k in ("AUTH_KEY", "NONCE_KEY")]
    return "\n".join(
        [
            "<?php",
            *lines,
            *salts,
            "$table_prefix = 'wp_';",
            "if (!defined('ABSPATH')) { define('ABSPATH', __DIR__ . '/'); }",
            "require_once ABSPATH . 'wp-settings.php';",
            "",
        ]
    )


@dataclass
class WordPressSite:
    root: Path
    url: str
    php_path: str
    database: str
    server: subprocess.Popen[bytes] | None = None

    @classmethod
    def start(cls, workdir: Path) -> WordPressSite:
        php = php_binary()
        database = f"m5_wp_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        mysql(php, f"CREATE DATABASE `{database}` CHARACTER SET utf8mb4")
        port = free_port()
        site = cls(workdir / "wordpress", f"http://127.0.0.1:{port}", php, database)
        try:
            build_tree(site.root, site.url, database)
            site.install()
            site.serve(port)
        except BaseException:
            site.stop()
            raise
        return site

    def install(self) -> None:
        run_php(
            self.php_path,
            "define('WP_INSTALLING', true);"
            f"require {json.dumps(str(self.root / 'wp-load.php'))};"
            "require_once ABSPATH . 'wp-admin/includes/upgrade.php';"
            "wp_install('M5 Test', 'editor', 'editor@example.org', true, '', 'secret-pass');"
            f"update_option('timezone_string', '{WP_TIMEZONE}');"
            "global $wp_rewrite; $wp_rewrite->set_permalink_structure('/%postname%/');"
            "flush_rewrite_rules(false);",
            cwd=self.root,
        )

    def serve(self, port: int) -> None:
        self.server = subprocess.Popen(
            [self.php_path, "-S", f"127.0.0.1:{port}", "router.php"],
            cwd=self.root,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "PHP_CLI_SERVER_WORKERS": "4"},
            start_new_session=True,  # stopped by its own process group, nothing else
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"php -S on port {port} did not start within 20s")

    def stop(self) -> None:
        if self.server is not None:
            os.killpg(self.server.pid, signal.SIGTERM)
            self.server.wait(timeout=10)
            self.server = None
        mysql(self.php_path, f"DROP DATABASE IF EXISTS `{self.database}`")

    def php(self, code: str) -> Any:
        """Run PHP inside WordPress; whatever it ``echo json_encode(...)``s is returned."""
        boot = f"require {json.dumps(str(self.root / 'wp-load.php'))};"
        out = run_php(self.php_path, boot + code, cwd=self.root).strip()
        return json.loads(out) if out else None

    # Newsroom actions, each through WordPress's own API.

    def insert_post(self, title: str, content: str = "<p>Metin.</p>", **fields: Any) -> int:
        post = {
            "post_title": title,
            "post_content": content,
            "post_status": "publish",
            "post_author": 1,
            **fields,
        }
        post_id = self.php(f"echo json_encode(wp_insert_post({php_array(post)}, true));")
        if not isinstance(post_id, int):
            raise RuntimeError(f"wp_insert_post failed: {post_id}")
        return post_id

    def update_post(self, post_id: int, **fields: Any) -> None:
        self.php(f"wp_update_post({php_array({'ID': post_id, **fields})}, true);")

    def set_terms(self, post_id: int, names: list[str], taxonomy: str = "category") -> None:
        """Terms by name, created when missing (categories need ids, tags take names)."""
        terms = json.dumps(names)
        self.php(
            f"$ids = []; foreach (json_decode({json.dumps(terms)}) as $name) {{"
            f"  $term = term_exists($name, '{taxonomy}') ?: wp_insert_term($name, '{taxonomy}');"
            "  $ids[] = (int) $term['term_id']; }"
            f"wp_set_post_terms({post_id}, $ids, '{taxonomy}');"
        )

    def reset(self) -> None:
        """Every post (any status, attachments too) deleted for good, terms kept."""
        self.php(
            'global $wpdb; foreach ($wpdb->get_col("SELECT ID FROM $wpdb->posts") as $id) {'
            " wp_delete_post((int) $id, true); }"
        )

    def guid(self, post_id: int) -> str:
        return str(self.php(f"echo json_encode(get_post({post_id})->guid);"))

    def link(self, post_id: int) -> str:
        return str(self.php(f"echo json_encode(get_permalink({post_id}));"))


def php_array(values: dict[str, Any]) -> str:
    """A PHP expression for ``values`` (decoded from JSON: no quoting mistakes)."""
    return f"json_decode({json.dumps(json.dumps(values))}, true)"
