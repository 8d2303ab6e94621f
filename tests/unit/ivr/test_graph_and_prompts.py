"""`ctigw flows graph` draws every node; `ctigw prompts build` makes 8 kHz mono WAV files."""
import subprocess
import wave
import xml.etree.ElementTree as ET

from ivr_fakes import FLOWS_DIR

from gateway.cli.main import main
from gateway.ivr.loader import load_flow

SVG = "{http://www.w3.org/2000/svg}"


def test_graph_is_valid_svg_naming_every_node(tmp_path, capsys):
    out = tmp_path / "main.svg"
    assert main(["flows", "graph", str(FLOWS_DIR / "main.yaml"), "-o", str(out)]) == 0
    root = ET.parse(out).getroot()
    assert root.tag == f"{SVG}svg"
    titles = {t.text for t in root.iter(f"{SVG}title")}
    flow = load_flow(FLOWS_DIR / "main.yaml")
    assert set(flow.nodes) <= titles
    assert "main_menu->billing_wait" in titles  # edges are titled "from->to"
    texts = " ".join(t.text or "" for t in root.iter(f"{SVG}text"))
    assert "queue billing" in texts and "wait billing > 120s" in texts


def test_graph_by_flow_name_and_dot_output(tmp_path, capsys):
    out = tmp_path / "callback.dot"
    assert main(["flows", "graph", "callback_offer", "-o", str(out)]) == 0
    dot = out.read_text()
    assert dot.startswith('digraph "callback_offer"')
    assert '"offer" -> "keep_waiting" [label="declined"]' in dot


def write_two_prompt_flow(write_flow, welcome="Hoş geldiniz."):
    return write_flow("small", f"""
start: hello
languages: [tr, en]
prompts:
  ctigw/hello: {{tr: "{welcome}", en: "Welcome."}}
  ctigw/pick_tr: {{tr: "Türkçe için bire basınız.", neutral: true}}
nodes:
  hello: {{type: play, prompt: [ctigw/pick_tr, ctigw/hello], next: bye}}
  bye: {{type: hangup}}
""")


def test_prompts_build_makes_8khz_mono_16bit_wavs_and_skips_unchanged(tmp_path, capsys, write_flow):
    flow = write_two_prompt_flow(write_flow)
    out = tmp_path / "prompts"
    assert main(["prompts", "build", "--out", str(out), str(flow)]) == 0
    printed = capsys.readouterr().out
    assert "[3/3]" in printed and "built 3, unchanged 0, failed 0" in printed
    for rel in ("tr/ctigw/hello.wav", "en/ctigw/hello.wav", "ctigw/pick_tr.wav"):
        with wave.open(str(out / rel)) as wav:
            assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (8000, 1, 2), rel
            assert wav.getnframes() > 8000 * 0.5  # some speech, not an empty file
    soxi = subprocess.run(["soxi", "-r", str(out / "tr/ctigw/hello.wav")], capture_output=True, text=True)
    assert soxi.stdout.strip() == "8000"

    assert main(["prompts", "build", "--out", str(out), str(flow)]) == 0
    assert "built 0, unchanged 3, failed 0" in capsys.readouterr().out

    before = (out / "en/ctigw/hello.wav").stat().st_mtime_ns
    write_two_prompt_flow(write_flow, welcome="Merhaba.")
    assert main(["prompts", "build", "--out", str(out), str(flow)]) == 0
    assert "built 1, unchanged 2, failed 0" in capsys.readouterr().out
    assert (out / "en/ctigw/hello.wav").stat().st_mtime_ns == before


def test_prompt_jobs_of_the_example_flows():
    from gateway.ivr.prompts import jobs_for

    flow = load_flow(FLOWS_DIR / "main.yaml")
    jobs, conflicts = jobs_for(flow.all_flows())
    paths = {job.relpath for job in jobs}
    assert conflicts == []
    assert {"tr/ctigw/main_menu.wav", "en/ctigw/main_menu.wav", "ctigw/language_tr.wav",
            "tr/ctigw/callback_confirm.wav"} <= paths
    assert {job.voice for job in jobs} == {"tr", "en-us"}
