"""Sampling profiles of a running server with py-spy (`pip install py-spy`).

`Profiler(pid, path)` is a context manager: py-spy samples the process while the block
runs and writes collapsed stacks (`--format raw`); `hot_spots(path)` turns them into
the top functions by own time and by inclusive time, as % of the busy samples.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Self


def py_spy() -> str | None:
    here = Path(sys.executable).parent / "py-spy"
    return str(here) if here.exists() else shutil.which("py-spy")


class Profiler:
    def __init__(self, pid: int, path: Path, rate: int = 250) -> None:
        self.pid, self.path, self.rate = pid, path, rate
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> Self:
        exe = py_spy()
        if exe is None:
            print("  py-spy not found: no profile (pip install py-spy)", file=sys.stderr)
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [exe, "record", "--pid", str(self.pid), "--rate", str(self.rate), "--format", "raw",
             "--function", "--threads", "-o", str(self.path)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(1.0)  # let it attach before the work starts
        return self

    def __exit__(self, *exc: object) -> bool:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        return False


def _frame_name(frame: str) -> str:
    """'func (path/to/file.py)' or 'func (path:line)' -> 'file.py:func'."""
    frame = frame.strip()
    if frame.endswith(")") and " (" in frame:
        func, _, where = frame[:-1].rpartition(" (")
        where = where.split(":")[0]
        for marker in ("site-packages/", "/src/", "lib/python3.11/"):
            if marker in where:
                where = where.split(marker, 1)[1]
                break
        return f"{where}:{func}"
    return frame


# Leaf frames where a thread waits rather than works (the event loop's select, idle
# worker threads): left out, so percentages are of the time the server was busy.
IDLE_LEAVES = ("threading.py:Condition.wait", "threading.py:Event.wait", "selectors.py:",
               "socket.py:socket.accept", "queue.py:Queue.get", "threading.py:Thread.join")
# Frames every busy stack passes through (bootstrap, event loop, CLI): not informative.
PLUMBING = ("threading.py:", "asyncio/", "click/", "concurrent/", "anyio/", "runpy.py:",
            "uvicorn/_compat.py:", "uvicorn/main.py:", "uvicorn/server.py:", "liaison/cli/",
            "liaison:<module>", "<module>")


def hot_spots(path: Path, top: int = 15) -> dict:
    """Top functions by own (leaf) and inclusive samples, as % of the busy samples."""
    own: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [_frame_name(f) for f in stack.split(";")]
        frames = [f for f in frames if not f.startswith(("thread (", "process "))]
        if not frames or frames[-1].startswith(IDLE_LEAVES):
            continue
        total += n
        own[frames[-1]] += n
        for f in set(frames):
            if not f.startswith(PLUMBING):
                incl[f] += n
    pct = (lambda c: round(100.0 * c / total, 1)) if total else (lambda c: 0.0)
    return {"samples": total,
            "own": [(f, pct(c)) for f, c in own.most_common(top)],
            "inclusive": [(f, pct(c)) for f, c in incl.most_common(top * 3)]}
