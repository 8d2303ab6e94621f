"""`ctigw prompts build`: the prompts written as text in the flows, spoken by espeak-ng and
converted by sox to what Asterisk plays without transcoding surprises: 8 kHz, mono, 16-bit
WAV. Layout `<out>/<lang>/ctigw/<name>.wav` (Asterisk picks the channel language's folder),
and `<out>/ctigw/<name>.wav` for language-neutral prompts.

A manifest beside the files remembers what text and voice made each one, so an unchanged
prompt is not synthesised again.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from gateway.ivr.model import Flow

# espeak-ng voices per language; the rest use the language code as the voice name.
VOICES = {"tr": "tr", "en": "en-us"}
WORDS_PER_MINUTE = 150  # a little slower than espeak's default: phone lines, listeners in a hurry
SAMPLE_RATE = 8000
MANIFEST = ".ctigw-prompts.json"
# Part of every fingerprint: change it when the synthesis recipe changes, to rebuild all.
RECIPE = f"espeak-ng -s {WORDS_PER_MINUTE} | sox -r {SAMPLE_RATE} -c 1 -b 16 norm -3"


class ToolMissing(RuntimeError):
    pass


@dataclass(frozen=True)
class PromptJob:
    sound: str  # ctigw/welcome
    language: str  # the text's language (the voice), also for neutral prompts
    text: str
    relpath: str  # tr/ctigw/welcome.wav, or ctigw/welcome.wav when neutral

    @property
    def voice(self) -> str:
        return VOICES.get(self.language, self.language)

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(f"{RECIPE}\0{self.voice}\0{self.text}".encode()).hexdigest()


@dataclass
class BuildSummary:
    built: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (relpath, why)
    conflicts: list[str] = field(default_factory=list)


def jobs_for(flows: Iterable[Flow]) -> tuple[list[PromptJob], list[str]]:
    """One job per file to build. Two flows giving different text for one file is a conflict
    (reported; the first flow's text wins)."""
    jobs: dict[str, PromptJob] = {}
    conflicts = []
    for flow in flows:
        for prompt in flow.prompt_texts.values():
            for language, text in prompt.texts.items():
                relpath = f"{prompt.sound}.wav" if prompt.neutral else f"{language}/{prompt.sound}.wav"
                job = PromptJob(prompt.sound, language, text, relpath)
                if relpath in jobs and jobs[relpath].text != text:
                    conflicts.append(f"{relpath}: {flow.path} gives other text than an earlier flow; kept the first")
                    continue
                jobs.setdefault(relpath, job)
    return sorted(jobs.values(), key=lambda j: j.relpath), conflicts


def build(jobs: list[PromptJob], out_dir: str | os.PathLike, *, progress: Callable[[str], None] = print,
          force: bool = False, workers: int | None = None) -> BuildSummary:
    """Synthesises what changed since the last build (all of it with `force`)."""
    espeak, sox = shutil.which("espeak-ng"), shutil.which("sox")
    if not espeak or not sox:
        raise ToolMissing("prompts build needs espeak-ng and sox: install the Debian packages espeak-ng and sox")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    manifest_path = out / MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, ValueError):
        manifest = {}
    summary = BuildSummary()
    todo = []
    total = len(jobs)
    for job in jobs:
        if not force and manifest.get(job.relpath) == job.fingerprint and (out / job.relpath).is_file():
            summary.unchanged.append(job.relpath)
        else:
            todo.append(job)
    if summary.unchanged:
        progress(f"{len(summary.unchanged)} of {total} prompts unchanged")
    done = 0
    with ThreadPoolExecutor(max_workers=workers or min(8, os.cpu_count() or 2)) as pool:
        futures = {pool.submit(_synthesise, job, out / job.relpath, espeak, sox): job for job in todo}
        for future in as_completed(futures):
            job = futures[future]
            done += 1
            try:
                future.result()
            except Exception as exc:
                summary.failed.append((job.relpath, str(exc)))
                progress(f"[{done}/{len(todo)}] {job.relpath}: FAILED: {exc}")
                continue
            manifest[job.relpath] = job.fingerprint
            summary.built.append(job.relpath)
            progress(f"[{done}/{len(todo)}] {job.relpath} ({job.voice}): built")
    tmp = manifest_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True))
    os.replace(tmp, manifest_path)
    return summary


def _synthesise(job: PromptJob, target: Path, espeak: str, sox: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="ctigw-prompt-") as tmp:
        raw = Path(tmp) / "raw.wav"
        text_file = Path(tmp) / "text.txt"
        text_file.write_text(job.text, encoding="utf-8")  # a file, so the locale cannot mangle UTF-8
        _run([espeak, "-v", job.voice, "-s", str(WORDS_PER_MINUTE), "-b", "1", "-f", str(text_file),
              "-w", str(raw)])
        partial = target.with_name(target.stem + ".partial.wav")
        _run([sox, str(raw), "-r", str(SAMPLE_RATE), "-c", "1", "-b", "16", "-e", "signed-integer",
              str(partial), "norm", "-3"])
        os.replace(partial, target)  # never leave Asterisk a half-written file


def _run(argv: list[str]) -> None:
    done = subprocess.run(argv, capture_output=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"{Path(argv[0]).name} exited {done.returncode}: "
                           f"{done.stderr.decode(errors='replace').strip()[:300]}")
