"""The product as an operator gets it: the wheel, installed in a fresh virtualenv outside the
checkout (dependencies from PyPI), set up with `ctigw init`, checked, and run.

Every command runs from a folder outside the checkout with a clean environment, so nothing
of the source tree (PYTHONPATH, the project's .venv, CTIGW_* variables) can stand in for
what the wheel ships.
"""
from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

pytestmark = pytest.mark.packaging

REPO = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("CTIGW_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CTIGW_", "PYTHON", "VIRTUAL_ENV", "NOTIFY_SOCKET"))}
    return {**env, **extra}


def _run(*cmd, cwd, timeout=600, env=None) -> subprocess.CompletedProcess:
    done = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env or _clean_env(), capture_output=True,
                          text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(map(str, cmd))} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(the installed `ctigw`, a working folder outside the checkout)."""
    root = tmp_path_factory.mktemp("wheel")
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", root / "dist", REPO, cwd=root)
    wheel, = (root / "dist").glob("ctigw-*.whl")
    _run(sys.executable, "-m", "venv", root / "venv", cwd=root)
    _run(root / "venv/bin/python", "-m", "pip", "install", "-q", wheel, cwd=root)
    work = root / "work"
    work.mkdir()
    return root / "venv/bin/ctigw", work


@pytest.fixture(scope="module")
def site(installed):
    """A folder written by `ctigw init`, and its configuration file."""
    ctigw, work = installed
    _run(ctigw, "init", work / "site", "--state-dir", work / "state", cwd=work)
    return work / "site", work / "site" / "gateway.toml"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_wheel_runs_from_its_own_files_not_the_checkout(installed):
    ctigw, work = installed
    venv_python = ctigw.parent / "python"
    where = _run(venv_python, "-c", "import gateway.cli.main as m; print(m.__file__)", cwd=work).stdout.strip()
    assert Path(where).is_relative_to(ctigw.parent.parent), where


def test_production_install_has_no_test_phones(installed):
    ctigw, work = installed
    probe = _run(ctigw.parent / "python", "-c", "import importlib.util as u; print(u.find_spec('pjsua2'))", cwd=work)
    assert probe.stdout.strip() == "None"
    done = subprocess.run([ctigw, "try"], cwd=work, env=_clean_env(), capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "ctigw[trial]" in done.stderr


def test_init_writes_a_starting_set_that_passes_every_check(installed, site):
    ctigw, work = installed
    folder, config = site
    assert sorted(p.name for p in (folder / "ivr_flows").glob("*.yaml")) == ["callback_offer.yaml", "main.yaml"]
    assert sorted(p.name for p in (folder / "agents").iterdir()) == ["queues.yaml", "roster.yaml"]
    shown = _run(ctigw, "-c", config, "check-config", cwd=work).stdout
    assert f'"flows_dir": "{folder / "ivr_flows"}"' in shown
    assert f'"roster": "{folder / "agents" / "roster.yaml"}"' in shown
    assert f'"state_dir": "{work / "state"}"' in shown
    flows = _run(ctigw, "-c", config, "flows", "check", cwd=work)
    assert "2 flow file(s) checked: no problems" in flows.stderr
    acd = _run(ctigw, "-c", config, "acd", "check", cwd=work)
    assert "roster and queues OK" in acd.stdout


def test_without_a_configuration_the_wheel_uses_its_shipped_examples(installed):
    ctigw, work = installed
    shown = _run(ctigw, "check-config", cwd=work).stdout
    assert f'"state_dir": "{work / "var"}"' in shown  # where it runs, never inside site-packages
    assert "/gateway/starter/ivr_flows" in shown
    assert "2 flow file(s) checked: no problems" in _run(ctigw, "flows", "check", cwd=work).stderr
    assert "roster and queues OK" in _run(ctigw, "acd", "check", cwd=work).stdout


def test_init_keeps_what_is_there(installed, site):
    ctigw, work = installed
    folder, _ = site
    done = subprocess.run([ctigw, "init", folder], cwd=work, env=_clean_env(), capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 1 and "--force" in done.stderr


def test_run_refuses_an_empty_redis_url(installed, site):
    ctigw, work = installed
    _, config = site
    done = subprocess.run([ctigw, "-c", config, "run"], cwd=work, env=_clean_env(CTIGW_REDIS_URL=""),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "CTIGW_REDIS_URL" in done.stderr and "[redis] url is empty" in done.stderr


def test_run_tells_systemd_it_is_ready_and_stops_on_sigterm(installed, site, tmp_path):
    """`ctigw run -c FILE` from the wheel: migrations, Lua scripts, flows and roster all found."""
    ctigw, work = installed
    _, config = site
    prefix = f"ctigw-wheel-{secrets.token_hex(4)}"
    notify_path = str(tmp_path / "notify")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as notify_socket:
        notify_socket.bind(notify_path)
        notify_socket.settimeout(60)
        http_port = _free_port()
        env = _clean_env(CTIGW_REDIS_URL=REDIS_URL, CTIGW_REDIS_KEY_PREFIX=prefix, NOTIFY_SOCKET=notify_path,
                         CTIGW_AGI_PORT=str(_free_port()), CTIGW_AMI_PORT=str(_free_port()),
                         CTIGW_HTTP_PORT=str(http_port), CTIGW_HTTP_TOKEN_SECRET=secrets.token_urlsafe(24))
        proc = subprocess.Popen([ctigw, "-c", config, "run"], cwd=work, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        try:
            try:
                ready = notify_socket.recv(4096).decode()
            except TimeoutError:
                proc.kill()
                pytest.fail(f"no READY from ctigw run:\n{proc.communicate()[0]}")
            assert ready.startswith("READY=1\n"), ready
            _the_pages_ship_in_the_wheel(http_port)
            proc.send_signal(signal.SIGTERM)
            assert notify_socket.recv(4096) == b"STOPPING=1"
            output, _ = proc.communicate(timeout=30)
            assert proc.returncode == 0, output
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            client = redis.Redis.from_url(REDIS_URL)
            keys = list(client.scan_iter(f"{prefix}:*", count=1000))
            if keys:
                client.delete(*keys)


def _the_pages_ship_in_the_wheel(port: int) -> None:
    """Templates, the Turkish catalogue and the static files come from the installed package."""
    import urllib.request

    request = urllib.request.Request(f"http://127.0.0.1:{port}/login", headers={"Accept-Language": "tr"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200 and "Giriş yap" in response.read().decode()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/static/web/app.css", timeout=10) as response:
        assert response.status == 200 and b".card" in response.read()
