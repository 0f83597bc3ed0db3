"""OCR workers that die cleanly, with real processes and the real engine: a killed worker's image is
read again and only an image that kills a worker twice is a failure; the workers die with their
parent (SIGKILL, SIGTERM); an interrupted run keeps what is done; stretched images are read."""

from __future__ import annotations

import functools
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import render_words
from PIL import Image

from hopid.data.parts import PartStore
from hopid.data.schema import write_table
from hopid.ocr.base import OcrEngine, OcrWord, failure_reason
from hopid.ocr.rapid import within_aspect
from hopid.ocr.registry import DEFAULT_ENGINE, cache_name, create_engine, engine_problem
from hopid.ocr.stage import OCR_PART_SCHEMA, run_ocr_parts

CRASH_SIZE = (321, 80)  # an image of this size kills the worker that reads it, every time
ONCE_SIZE = (322, 80)  # kills the first worker that reads it


def needs_engine() -> None:
    if problem := engine_problem(DEFAULT_ENGINE):
        pytest.skip(problem)


class CrashingEngine:
    """The real engine, except that the marked image sizes kill the process (SIGKILL, as the
    out-of-memory killer does): a real process death, not a mock."""

    name = "crashing"

    def __init__(self, real: OcrEngine, marks: Path) -> None:
        self.real, self.marks = real, marks

    def read(self, image: Image.Image) -> list[OcrWord]:
        once = self.marks / "killed-once"
        if image.size == ONCE_SIZE and not once.exists():
            once.touch()
            os.kill(os.getpid(), signal.SIGKILL)
        if image.size == CRASH_SIZE:
            os.kill(os.getpid(), signal.SIGKILL)
        return self.real.read(image)

    def read_word(self, image: Image.Image) -> str:
        return self.real.read_word(image)


def crashing_engine(threads: int, marks: str) -> OcrEngine:
    """A picklable factory: reaches the spawned workers by name (this module is on their sys.path)."""
    return CrashingEngine(create_engine(DEFAULT_ENGINE, threads), Path(marks))


def word_images(folder: Path, count: int, size: tuple[int, int] = (240, 80)) -> dict[str, Path]:
    """``count`` images, each showing its own word: word -> path."""
    return {f"W{i:03d}X": render_words(folder / f"img{i:03d}.png", [f"W{i:03d}X"], size=size) for i in range(count)}


def stored(store: PartStore) -> dict[str, dict]:
    return {row["key"]: row for row in store.read().to_pylist()}


def read_text(row: dict) -> str:
    return "".join(row["texts"]).upper()


def proc_children(pid: int) -> dict[int, str]:
    """Live (not zombie) children of ``pid``: pid -> command line, from /proc."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if int(ppid) == pid and state != "Z":
            found[int(entry.name)] = cmdline
    return found


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def cpu_seconds(pid: int) -> float:
    """User + system CPU time ``pid`` has used so far (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def ocr_workers(pid: int) -> list[int]:
    return [child for child, cmdline in proc_children(pid).items() if "spawn_main" in cmdline]


def wait_for(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def test_failure_reasons_are_never_blank() -> None:
    class Bare(Exception):
        pass

    try:
        try:
            raise ValueError("resize_w or resize_h is less than or equal to 0")
        except ValueError as exc:
            raise Bare() from exc
    except Bare as exc:
        assert failure_reason(exc) == "Bare: resize_w or resize_h is less than or equal to 0"
    assert failure_reason(Bare()) == "Bare: no message given"


def test_stretched_images_are_padded_to_a_readable_shape() -> None:
    strip = Image.new("RGB", (12000, 12), (200, 10, 10))
    padded = within_aspect(strip)
    assert padded.size == (12000, 240) and padded.getpixel((5, 200)) == (200, 10, 10)
    assert within_aspect(Image.new("RGB", (12, 12000))).size == (1500, 12000)
    normal = Image.new("RGB", (640, 480))
    assert within_aspect(normal) is normal


ORPHAN = """
import subprocess, sys, time
guarded = "import os, sys, time; from hopid.ocr.worker import die_with_parent; die_with_parent(os.getppid()); " \
    "print(os.getpid(), flush=True); time.sleep(600)"
subprocess.Popen([sys.executable, "-c", guarded], stdout=open(sys.argv[1], "w"))
time.sleep(600)
"""


def test_a_guarded_process_ends_with_its_parent(tmp_path: Path) -> None:
    """Even busy (no pipe to notice), a worker does not outlive its parent's SIGKILL."""
    pid_file = tmp_path / "child.pid"
    parent = subprocess.Popen([sys.executable, "-c", ORPHAN, str(pid_file)])
    try:
        assert wait_for(lambda: pid_file.read_text().strip() != "" if pid_file.exists() else False, 60)
        child = int(pid_file.read_text())
        assert alive(child)
    finally:
        parent.kill()
        parent.wait()
    assert wait_for(lambda: not alive(child), 3)


@pytest.mark.slow
def test_a_dead_worker_costs_no_good_image(tmp_path: Path) -> None:
    """Only the image that kills a worker twice is a failure; the one that killed once and every
    other image in flight get their real rows."""
    needs_engine()
    words = word_images(tmp_path / "images", 6)
    render_words(tmp_path / "images" / "once.png", ["ONCE"], size=ONCE_SIZE)
    render_words(tmp_path / "images" / "crash.png", ["CRASH"], size=CRASH_SIZE)
    items = [(word, path) for word, path in words.items()]
    items[2:2] = [("crash", tmp_path / "images" / "crash.png"), ("once", tmp_path / "images" / "once.png")]
    store = PartStore(tmp_path / "parts", OCR_PART_SCHEMA)
    factory = functools.partial(crashing_engine, marks=str(tmp_path))
    assert run_ocr_parts(items, store, factory, workers=2) == len(items)
    rows = stored(store)
    assert (tmp_path / "killed-once").exists()
    assert rows["crash"]["error"] == "OCR worker died (signal 9) twice on this image"
    assert store.read().column("key").to_pylist().count("crash") == 1
    assert {key for key, row in rows.items() if row["error"]} == {"crash"}
    assert read_text(rows["once"]) == "ONCE"
    assert sum(read_text(rows[word]) == word for word in words) >= len(words) - 1
    assert run_ocr_parts(items, store, factory, workers=2) == 0  # the failure is cached, the rest is done


@pytest.mark.slow
def test_a_worker_killed_from_outside_is_replaced_and_its_image_read(tmp_path: Path) -> None:
    from hopid.ocr.pool import ocr_paths

    needs_engine()
    words = word_images(tmp_path, 10)
    results, killed = {}, []
    for result in ocr_paths(list(words.values()), DEFAULT_ENGINE, workers=2):
        results[result.index] = result
        if not killed:
            killed = ocr_workers(os.getpid())[:1]
            os.kill(killed[0], signal.SIGKILL)
    assert sorted(results) == list(range(len(words)))
    assert all(r.error is None for r in results.values()), [r.error for r in results.values()]
    found = ["".join(w.text for w in results[i].words).upper() for i in range(len(words))]
    assert sum(f == w for f, w in zip(found, words, strict=True)) >= len(words) - 1
    assert not alive(killed[0]) and ocr_workers(os.getpid()) == []  # the pool is gone with the iteration


@pytest.mark.slow
def test_an_interrupted_stage_saves_what_is_done_and_the_rerun_reads_the_rest(tmp_path: Path) -> None:
    needs_engine()
    words = word_images(tmp_path / "images", 12)
    store = PartStore(tmp_path / "parts", OCR_PART_SCHEMA)

    def interrupt_after_three(stage: str, done: int, total: int) -> None:
        if done == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_ocr_parts(list(words.items()), store, DEFAULT_ENGINE, workers=2, progress=interrupt_after_three)
    assert len(stored(store)) == 3 and ocr_workers(os.getpid()) == []
    assert run_ocr_parts(list(words.items()), store, DEFAULT_ENGINE, workers=2) == len(words) - 3
    assert {key for key, row in stored(store).items() if not row["error"]} == set(words)


@pytest.mark.slow
def test_a_stretched_image_gets_a_row(tmp_path: Path) -> None:
    needs_engine()
    paths = {}
    for name, size in (("wide", (12000, 12)), ("tall", (12, 12000))):
        paths[name] = tmp_path / f"{name}.png"
        Image.new("RGB", size, "white").save(paths[name])
    store = PartStore(tmp_path / "parts", OCR_PART_SCHEMA)
    run_ocr_parts(list(paths.items()), store, DEFAULT_ENGINE, workers=1)
    rows = stored(store)
    assert rows["wide"]["error"] is None and (rows["wide"]["width"], rows["wide"]["height"]) == (12000, 12)
    assert rows["tall"]["error"] is None and (rows["tall"]["width"], rows["tall"]["height"]) == (12, 12000)


def hopid_ocr(tmp_path: Path, count: int) -> tuple[list[str], Path]:
    """A dataset of ``count`` word images; the `hopid ocr` command line and its OCR cache."""
    words = word_images(tmp_path / "ds" / "images", count)
    rows = [
        {"image_id": p.name, "path": f"images/{p.name}", "split": "test", "width": 240, "height": 80}
        for p in words.values()
    ]
    write_table(rows, tmp_path / "ds" / "images.parquet", "images")
    command = [sys.executable, "-m", "hopid_cli", "ocr", str(tmp_path / "ds"), "--workers", "2"]
    return command, tmp_path / "ds" / ".hopid-cache" / f"ocr-{cache_name(DEFAULT_ENGINE)}"


def started(command: list[str], tmp_path: Path) -> tuple[subprocess.Popen, list[int]]:
    """Run ``command`` until its two OCR workers are up; returns it and its children's pids."""
    process = subprocess.Popen(
        command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    assert wait_for(lambda: len(ocr_workers(process.pid)) == 2 or process.poll() is not None, 120)
    assert process.poll() is None, process.communicate()
    return process, list(proc_children(process.pid))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("stage", "how"), [("ocr", signal.SIGKILL), ("ocr", signal.SIGTERM), ("index", signal.SIGKILL)]
)
def test_workers_and_resource_tracker_die_with_their_command(tmp_path: Path, stage: str, how: signal.Signals) -> None:
    needs_engine()
    command, _ = hopid_ocr(tmp_path, 200)
    if stage == "index":
        command = [*command[:3], "index", str(tmp_path / "ds" / "images"), "--workers", "2"]
    process, children = started(command, tmp_path)
    assert len(children) >= 2
    time.sleep(1.0)
    os.kill(process.pid, how)  # the parent only: its workers must follow by themselves
    process.communicate(timeout=60)
    assert wait_for(lambda: not any(alive(pid) for pid in children), 5), [p for p in children if alive(p)]
    if how == signal.SIGTERM:
        assert process.returncode == 128 + signal.SIGTERM


@pytest.mark.slow
def test_ctrl_c_saves_the_results_in_hand_and_the_rerun_reads_only_the_rest(tmp_path: Path) -> None:
    needs_engine()
    count = 60
    command, parts = hopid_ocr(tmp_path, count)
    process, children = started(command, tmp_path)
    workers = ocr_workers(process.pid)
    # Engine loaded and a few images read (about 0.3 s of CPU each), by CPU time: the machine may be busy.
    assert wait_for(lambda: min(cpu_seconds(pid) for pid in workers) > 4.0, 120)
    os.killpg(process.pid, signal.SIGINT)  # as a terminal does: the whole process group
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130 and "finished work is saved" in stderr
    assert wait_for(lambda: not any(alive(pid) for pid in children), 5)
    done = len(PartStore(parts, OCR_PART_SCHEMA).done())
    assert 0 < done < count
    rerun = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, check=True)
    assert re.search(rf"read_now\s+│?\s*{count - done}\b", rerun.stdout), rerun.stdout


def failing_engine(threads: int) -> OcrEngine:
    raise RuntimeError("model file is corrupt")


def dying_engine(threads: int) -> OcrEngine:
    os.kill(os.getpid(), signal.SIGKILL)
    raise AssertionError("unreachable")


@pytest.mark.slow
def test_an_engine_that_cannot_start_is_one_clear_error(tmp_path: Path) -> None:
    from hopid.errors import HopidError
    from hopid.ocr.pool import ocr_paths

    paths = list(word_images(tmp_path, 3).values())
    with pytest.raises(HopidError, match="could not be created: RuntimeError: model file is corrupt"):
        list(ocr_paths(paths, failing_engine, workers=2))
    with pytest.raises(HopidError, match=r"keep dying while loading the engine \(signal 9\)"):
        list(ocr_paths(paths, dying_engine, workers=2))
    assert ocr_workers(os.getpid()) == []


def test_a_task_sent_to_a_worker_that_just_died_waits_for_its_death_to_be_reported() -> None:
    from hopid.ocr.pool import _Pool

    pool = _Pool(dying_engine, 1)
    try:
        worker = pool.workers[0]
        worker.process.join(30)
        assert worker.process.exitcode == -signal.SIGKILL
        for index in range(3):  # the pipe is broken: sending must not raise
            pool.give(worker, (index, f"img{index}.png"))
        assert [task[0] for task in worker.tasks] == [0, 1, 2]
        assert [news for _, news in pool.events()] == ["signal 9"]
        assert 0 not in pool.workers
    finally:
        pool.close(gently=False)


@pytest.mark.slow
def test_failures_that_were_not_the_images_fault_are_read_again(tmp_path: Path) -> None:
    needs_engine()
    store = PartStore(tmp_path / "parts", OCR_PART_SCHEMA)
    reasons = {
        "killed": "OCR worker process crashed (out of memory or a native error)",  # a whole batch, by older versions
        "blank": "OCR failed: ResizeImgError: ",
        "broken": "not an image file Pillow can read",
    }
    empty = {"width": 0, "height": 0, "texts": [], "confidences": [], "boxes": []}
    store.append([{"key": key, "error": reason, **empty} for key, reason in reasons.items()])
    items = [(key, render_words(tmp_path / f"{key}.png", [key.upper()], size=(240, 80))) for key in reasons]
    assert run_ocr_parts(items, store, DEFAULT_ENGINE, workers=1) == 2
    rows = stored(store)
    assert rows["killed"]["error"] is None and rows["blank"]["error"] is None
    assert rows["broken"]["error"] == reasons["broken"]
