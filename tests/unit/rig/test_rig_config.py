"""Rendering telephony_conf/ for a rig instance (no Asterisk needed)."""
from __future__ import annotations

import os
import re
import stat

import pytest

from gateway.rig.asterisk import (
    TELEPHONY_CONF,
    AsteriskRig,
    RigError,
    modules_to_load,
    render_config,
    resolve_in_chroot,
    rig_secrets,
)


def _rig(tmp_path, **kw) -> AsteriskRig:
    defaults = dict(instance="unit", sip_port=5999, ami_port=5998, agi_host="127.0.0.9", agi_port=4999,
                    ami_username="gwuser", ami_secret="ami-Secret_1", carrier_secret="carrier-Secret_2",
                    agent_secret="agent-Secret_3", rtp_start=30000, rtp_end=30099)
    defaults.update(kw)
    return AsteriskRig(tmp_path / "root", **defaults)


def test_every_placeholder_is_replaced(tmp_path):
    rendered = _rig(tmp_path).render()
    assert {"asterisk.conf", "extensions.conf", "manager.conf", "pjsip.conf", "modules.conf", "rtp.conf",
            "musiconhold.conf", "queues.conf", "logger.conf"} <= set(rendered)
    for name, text in rendered.items():
        assert "@@" not in text, f"{name} still has a placeholder"


def test_values_land_where_asterisk_reads_them(tmp_path):
    r = _rig(tmp_path).render()
    assert "port = 5998" in r["manager.conf"] and "bindaddr = 127.0.0.1" in r["manager.conf"]
    assert "[gwuser]" in r["manager.conf"] and "secret = ami-Secret_1" in r["manager.conf"]
    assert "bind = 127.0.0.1:5999" in r["pjsip.conf"]
    assert "password = carrier-Secret_2" in r["pjsip.conf"]
    assert r["pjsip.conf"].count("password = agent-Secret_3") == 1  # once, in the agents' template
    assert "rtpstart = 30000" in r["rtp.conf"] and "rtpend = 30099" in r["rtp.conf"]
    assert "AGI(agi://127.0.0.9:4999/inbound?dnis=" in r["extensions.conf"]
    # The dialplan's own ${...} expressions survive rendering untouched.
    assert "${IF($[${LEN(${CTIGW_RING_TIMEOUT})}>0]?${CTIGW_RING_TIMEOUT}:15)}" in r["extensions.conf"]
    dirs = dict(re.findall(r"^(ast\w+dir) => (\S+)", r["asterisk.conf"], re.M))
    assert dirs["astdatadir"] == "/usr/share/asterisk"
    for key in ("astetcdir", "astrundir", "astlogdir", "astspooldir", "astvarlibdir", "astdbdir"):
        assert dirs[key].startswith("/srv/ctigw/unit/"), key


def test_two_instances_share_nothing_writable(tmp_path):
    a = _rig(tmp_path, instance="trial").render()["asterisk.conf"]
    b = _rig(tmp_path, instance="test").render()["asterisk.conf"]
    writable = ("astetcdir", "astrundir", "astlogdir", "astspooldir", "astvarlibdir", "astdbdir", "astcachedir")
    da = dict(re.findall(r"^(ast\w+dir) => (\S+)", a, re.M))
    db = dict(re.findall(r"^(ast\w+dir) => (\S+)", b, re.M))
    for key in writable:
        assert da[key] != db[key], key


def test_agent_endpoints_1001_to_1020(tmp_path):
    pjsip = _rig(tmp_path).render()["pjsip.conf"]
    for n in range(1001, 1021):
        assert f"[{n}](ctigw-agent)" in pjsip and f"username = {n}" in pjsip
    assert "[1021]" not in pjsip
    assert "endpoint_identifier_order = auth_username,username" in pjsip


@pytest.mark.parametrize("bad", ["has;semicolon", "has space", "new\nline", ""])
def test_unsafe_values_are_refused(tmp_path, bad):
    with pytest.raises(RigError):
        render_config({**_rig(tmp_path).placeholder_values(), "AMI_SECRET": bad})


def test_missing_value_is_named(tmp_path):
    values = _rig(tmp_path).placeholder_values()
    del values["AGI_PORT"]
    with pytest.raises(RigError, match="@@AGI_PORT@@"):
        render_config(values)


def test_every_context_is_commented():
    text = (TELEPHONY_CONF / "extensions.conf").read_text().splitlines()
    for i, line in enumerate(text):
        if line.startswith("[") and not line.startswith(("[general]", "[globals]")):
            assert text[i - 1].startswith(";"), f"context {line} has no comment above it"


def test_modules_to_load_parses_the_load_lines():
    modules = modules_to_load((TELEPHONY_CONF / "modules.conf").read_text())
    assert {"chan_pjsip.so", "res_agi.so", "app_queue.so", "res_musiconhold.so", "func_uri.so"} <= set(modules)
    assert all(m.endswith(".so") for m in modules)


def test_write_config_and_prompts(tmp_path):
    root = tmp_path / "root"
    # Debian's layout: sounds/en -> /etc/alternatives/asterisk-prompt-en -> .../en_US_f_Allison
    allison = root / "usr/share/asterisk/sounds/en_US_f_Allison"
    allison.mkdir(parents=True)
    (root / "etc/alternatives").mkdir(parents=True)
    os.symlink("/usr/share/asterisk/sounds/en_US_f_Allison", root / "etc/alternatives/asterisk-prompt-en")
    os.symlink("/etc/alternatives/asterisk-prompt-en", root / "usr/share/asterisk/sounds/en")
    assert resolve_in_chroot(root, "/usr/share/asterisk/sounds/en") == allison
    prompts = tmp_path / "prompts"
    (prompts / "en" / "ctigw").mkdir(parents=True)
    (prompts / "en" / "ctigw" / "welcome.wav").write_bytes(b"RIFF")
    (prompts / "tr").mkdir()
    (prompts / "tr" / "hosgeldiniz.wav").write_bytes(b"RIFF")
    rig = _rig(tmp_path, prompts_dir=prompts)
    written = rig.write_config()
    assert {p.name for p in written} >= {"manager.conf", "pjsip.conf"}
    assert stat.S_IMODE((rig.etc_dir / "manager.conf").stat().st_mode) == 0o600
    assert (allison / "ctigw" / "welcome.wav").read_bytes() == b"RIFF"
    assert (root / "usr/share/asterisk/sounds/tr/hosgeldiniz.wav").exists()
    assert not (root / "etc/alternatives/ctigw").exists()
    assert rig.install_prompts(prompts) == 0  # unchanged files are not copied again


def test_rig_secrets_persist_privately(tmp_path):
    first = rig_secrets(tmp_path, "trial")
    assert set(first) == {"ami_secret", "carrier_secret", "agent_secret"}
    assert rig_secrets(tmp_path, "trial") == first
    path = tmp_path / "rig-trial.secrets.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert rig_secrets(tmp_path, "other", create=False) == {}


def test_bad_instance_name():
    with pytest.raises(RigError):
        AsteriskRig("/nonexistent", instance="../etc")
