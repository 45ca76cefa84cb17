"""`kp deploy nginx` and `kp deploy systemd` as commands: what they generate from a build
(checked by Debian's `nginx -t` and, when present, `systemd-analyze verify`) and the
errors they give for options that cannot work."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner, Result

from kp.cli import main
from kp_contract.manifest import GatedPage, read_manifest, write_manifest

from .conftest import nginx_conf, nginx_test, paywall_fixtures

make_built_site = paywall_fixtures.make_built_site


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The paywall tests' hand-made build (two courses, a members-only page), as cwd."""
    root = make_built_site(tmp_path / "project")
    for name in list(os.environ):
        if name.startswith(("KP_", "STRIPE_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(root)
    monkeypatch.setenv("KP_BASE_URL", "https://learn.example.com")
    return root


def kp(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def generate(project: Path, *args: str) -> str:
    out = project / "deploy"
    result = kp("deploy", "nginx", "--out", str(out), "--cache-dir", str(project / "c"), *args)
    assert result.exit_code == 0, result.output
    return (out / "kp.conf").read_text(encoding="utf-8")


def nginx_accepts(tmp_path: Path, conf_text: str) -> None:
    from .conftest import nginx_executable

    nginx = nginx_executable()
    if nginx is None:
        pytest.skip("nginx is not installed (Debian: apt-get install nginx-light; .ci/run does)")
    prefix = tmp_path / "nginx-t"
    prefix.mkdir(exist_ok=True)
    kp_conf = prefix / "kp.conf"
    kp_conf.write_text(conf_text, encoding="utf-8")
    top = prefix / "nginx.conf"
    top.write_text(nginx_conf(prefix, kp_conf), encoding="utf-8")
    checked = nginx_test(nginx, prefix, top)
    assert checked.returncode == 0, checked.stderr
    assert "[warn]" not in checked.stderr, checked.stderr


def test_a_paywall_that_does_not_answer_means_the_teaser(project: Path, tmp_path: Path) -> None:
    """Every worker down (a restart, a crash): a signed-in reader of a gated page gets the
    public teaser from nginx, not a 500 and not the full text; public pages still work."""
    from stripe_local.asgi_thread import free_port

    from .conftest import nginx_executable, wait_for

    nginx = nginx_executable()
    if nginx is None:
        pytest.skip("nginx is not installed (Debian: apt-get install nginx-light; .ci/run does)")
    port, dead = free_port(), free_port()  # nothing listens on `dead`
    conf = generate(project, "--listen", f"127.0.0.1:{port}", "--upstream", f"127.0.0.1:{dead}")
    prefix = tmp_path / "nginx-run"
    prefix.mkdir()
    kp_conf = prefix / "kp.conf"
    kp_conf.write_text(conf, encoding="utf-8")
    top = prefix / "nginx.conf"
    top.write_text(nginx_conf(prefix, kp_conf), encoding="utf-8")
    cmd = [nginx, "-p", str(prefix), "-c", str(top), "-e", str(prefix / "error.log")]
    process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(f"{base}/", 20, process, prefix / "error.log")
        lesson = httpx.get(f"{base}/courses/demo/02-paid/", cookies={"kp_session": "x" * 40})
        assert lesson.status_code == 200, lesson.text[:300]
        assert "The first paragraph is public." in lesson.text
        assert paywall_fixtures.CANARY not in lesson.text
        assert "no-store" in lesson.headers["cache-control"]
    finally:
        process.terminate()
        process.wait(15)


def test_every_gated_url_of_the_manifest_gets_a_location(project: Path, tmp_path: Path) -> None:
    text = generate(project, "--listen", "127.0.0.1:8080", "--upstream", "127.0.0.1:8001")
    manifest = read_manifest(project / "private" / "manifest.json")
    assert set(manifest.gated) == {
        "/courses/demo/02-paid/",
        "/courses/pro-course/01-lesson/",
        "/members/",
    }
    for url, page in manifest.gated.items():
        assert f'location = "{url}" {{' in text
        assert f'location = "{url}index.html" {{' in text
        assert f'try_files "/{page.private_file}" @kp_teaser;' in text
        assert f'set $kp_gated "{url}";' in text
    assert text.count("auth_request /_kp/auth;") == 2 * len(manifest.gated)
    # private/ is only ever the root of those exact locations.
    private_roots = [line for line in text.splitlines() if "/private" in line and "root" in line]
    assert len(private_roots) == 2 * len(manifest.gated)
    assert "server_name learn.example.com;" in text
    assert 'add_header Strict-Transport-Security "max-age=31536000" always;' in text  # https
    assert "proxy_cache_valid 204 5s;" in text
    nginx_accepts(tmp_path, text)


def test_a_new_gated_page_appears_after_regenerating(project: Path, tmp_path: Path) -> None:
    path = project / "private" / "manifest.json"
    manifest = read_manifest(path)
    added = GatedPage(
        url="/articles/members-notes/",
        title="Notes",
        private_file="articles/members-notes/index.html",
        requires=["member"],
    )
    gated = {**manifest.gated, added.url: added}
    write_manifest(
        manifest.model_copy(update={"gated": gated, "built_at": dt.datetime.now(dt.UTC)}), path
    )
    assert 'location = "/articles/members-notes/" {' in generate(project)


def test_options_reach_the_config(project: Path, tmp_path: Path) -> None:
    text = generate(
        project,
        "--listen",
        "[::1]:8443",
        "--upstream",
        "127.0.0.1:8001",
        "--upstream",
        "10.0.0.7:8002",
        "--upstream",
        "127.0.0.1:8001",
        "--server-name",
        "learn.example.com www.learn.example.com",
        "--auth-cache-seconds",
        "30",
    )
    assert "listen [::1]:8443;" in text
    assert text.count("server 127.0.0.1:8001;") == 1 and "server 10.0.0.7:8002;" in text
    assert "server_name learn.example.com www.learn.example.com;" in text
    assert "proxy_cache_valid 204 30s;" in text
    assert 'location = "/api/stripe/webhook" { proxy_pass http://kp_paywall; ' in text
    assert "client_max_body_size 1048576;" in text  # KP_MAX_WEBHOOK_BYTES
    nginx_accepts(tmp_path, text)


def test_body_limits_follow_the_settings(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KP_MAX_WEBHOOK_BYTES", "2097152")
    monkeypatch.setenv("KP_MAX_BODY_BYTES", "32768")
    text = generate(project)
    assert "client_max_body_size 2097152; }" in text
    assert "    client_max_body_size 32768;\n" in text
    # The members desk's CSV import takes up to 10 MiB: nginx must let it through too.
    assert (
        '= "/admin/members/import" { proxy_pass http://kp_paywall; client_max_body_size 10485760; }'
        in text
    )


def test_no_auth_cache(project: Path, tmp_path: Path) -> None:
    text = generate(project, "--auth-cache-seconds", "0")
    assert "proxy_cache" not in text
    assert "auth_request /_kp/auth;" in text
    nginx_accepts(tmp_path, text)


def test_prints_to_stdout_without_out(project: Path) -> None:
    result = kp("deploy", "nginx", "--cache-dir", str(project / "c"))
    assert result.exit_code == 0, result.output
    assert "upstream kp_paywall {\n    server 127.0.0.1:8000;" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--listen", "127.0.0.1:99999"], "port must be a number from 1 to 65535"),
        (["--listen", "8080"], "expected HOST:PORT"),
        (["--upstream", "bad host:80"], "is neither an IP address nor a host name"),
        (["--upstream", "[::1:80"], "IPv6 address is written [ADDRESS]:PORT"),
        (["--site-dir", "/nonexistent/site"], "/nonexistent/site is not a directory"),
        (["--cache-dir", "/nonexistent/dir/kp"], "/nonexistent/dir does not exist"),
        (["--cache-dir", "relative/kp"], "must be an absolute path"),
        (["--server-name", "bad;name"], "is not a host name nginx accepts"),
        (["--auth-cache-seconds", "-1"], "--auth-cache-seconds"),
    ],
)
def test_bad_options_are_named(project: Path, args: list[str], message: str) -> None:
    full = ["deploy", "nginx", *args]
    if "--cache-dir" not in args:
        full += ["--cache-dir", str(project / "c")]
    result = kp(*full)
    assert result.exit_code != 0
    assert message in result.output, result.output


def test_missing_build_says_to_build(project: Path) -> None:
    (project / "private" / "manifest.json").unlink()
    result = kp("deploy", "nginx", "--cache-dir", str(project / "c"))
    assert result.exit_code == 1
    assert "no build manifest at" in result.output and "run `kp build`" in result.output


def test_overlapping_site_and_private_dirs_are_refused(project: Path) -> None:
    shutil.copy(project / "private" / "manifest.json", project / "site" / "manifest.json")
    result = kp("deploy", "nginx", "--private-dir", "site", "--cache-dir", str(project / "c"))
    assert result.exit_code == 2
    assert "overlap: private pages would be public" in result.output


def test_a_url_nginx_cannot_read_literally_is_named(project: Path) -> None:
    path = project / "private" / "manifest.json"
    manifest = read_manifest(path)
    odd = GatedPage(url="/a$b/", title="x", private_file="a/index.html", requires=["member"])
    write_manifest(manifest.model_copy(update={"gated": {odd.url: odd}}), path)
    result = kp("deploy", "nginx", "--cache-dir", str(project / "c"))
    assert result.exit_code == 1
    assert "gated URL '/a$b/'" in result.output


# ---------------------------------------------------------------- systemd


def test_systemd_unit(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "units"
    result = kp(
        "deploy",
        "systemd",
        "--out",
        str(out),
        "--port",
        "8001",
        "--port",
        "8002",
        "--user",
        "www-data",
        "--env-file",
        "/etc/kp/kp.env",
    )
    assert result.exit_code == 0, result.output
    unit = (out / "kp@.service").read_text(encoding="utf-8")
    assert "ExecStart=" in unit and " serve --host 127.0.0.1 --port %i" in unit
    assert "User=www-data\nGroup=www-data\n" in unit
    assert f"WorkingDirectory={project.resolve()}\n" in unit
    assert "EnvironmentFile=/etc/kp/kp.env\n" in unit
    assert "Restart=on-failure\n" in unit
    assert f"ReadWritePaths={project.resolve() / 'var'}\n" in unit
    # var/ is made for the service user before the sandbox needs it (ReadWritePaths).
    assert (
        f"ExecStartPre=+/usr/bin/install -d -o www-data -g www-data -m 0750 "
        f"{project.resolve() / 'var'}\n" in unit
    )
    assert "systemctl enable --now kp@8001 kp@8002" in result.output
    example = (out / "kp.env.example").read_text(encoding="utf-8")
    assert "KP_DATABASE_URL=" in example and "KP_MAX_WEBHOOK_BYTES=1048576" in example
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        return
    checked = subprocess.run(
        [analyze, "verify", "--man=no", str(out / "kp@8001.service")],
        capture_output=True,
        text=True,
        timeout=60,
        env={"SYSTEMD_LOG_LEVEL": "warning", "PATH": "/usr/bin:/bin"},
        cwd=out,
    )
    assert checked.returncode == 0 and "kp@" not in checked.stderr, checked.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--user", "Bad User"], "--user 'Bad User' is not a valid system user"),
        (["--env-file", "relative.env"], "--env-file relative.env must be an absolute path"),
        (["--kp", "/nonexistent/kp"], "--kp /nonexistent/kp does not exist"),
        (["--port", "0"], "--port"),
        (["--working-directory", "/nonexistent"], "/nonexistent is not a directory"),
    ],
)
def test_systemd_bad_options_are_named(project: Path, args: list[str], message: str) -> None:
    result = kp("deploy", "systemd", *args)
    assert result.exit_code != 0
    assert message in result.output, result.output
