"""Small helpers: deadlines, latency summaries, peak RSS of a process."""

from __future__ import annotations

import os
import time
from pathlib import Path


class Deadline:
    """A time budget for one operation (medallion can take hours; we stop it)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.start = time.perf_counter()
        self.end = self.start + seconds

    def expired(self) -> bool:
        return time.perf_counter() > self.end

    def remaining(self) -> float:
        return max(0.0, self.end - time.perf_counter())

    def elapsed(self) -> float:
        return time.perf_counter() - self.start


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list (q in 0..100)."""
    if not sorted_values:
        return float("nan")
    k = max(0, min(len(sorted_values) - 1, round(q / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[k]


def latency_summary(seconds: list[float]) -> dict:
    """Latencies in milliseconds: count, p50, p95, p99, mean, max."""
    s = sorted(seconds)
    if not s:
        return {"count": 0}
    ms = 1000.0
    return {"count": len(s), "p50_ms": percentile(s, 50) * ms, "p95_ms": percentile(s, 95) * ms,
            "p99_ms": percentile(s, 99) * ms, "mean_ms": sum(s) / len(s) * ms,
            "max_ms": s[-1] * ms}


_TICK = os.sysconf("SC_CLK_TCK")


def median_run(runs: list[dict], listed_as: str) -> dict:
    """The median of repeated runs of one operation by `objects_per_s` (the lower of the
    two middle ones for an even count), a copy, with every run's rate under `listed_as`."""
    ordered = sorted(runs, key=lambda r: r["objects_per_s"])
    median = dict(ordered[(len(ordered) - 1) // 2])
    median[listed_as] = [r["objects_per_s"] for r in runs]
    return median


def proc_cpu(pid: int) -> float | None:
    """CPU seconds (user + system) a process has used so far, from /proc/PID/stat."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / _TICK


def proc_written(pid: int) -> int | None:
    """Bytes a process has caused to be written to storage so far (`write_bytes` of
    /proc/PID/io: pages it dirtied in files, so the WAL and the checkpoints' copies into
    the database file, not what it sent over sockets); None where the kernel hides it."""
    try:
        for line in Path(f"/proc/{pid}/io").read_text().splitlines():
            if line.startswith("write_bytes:"):
                return int(line.split(":", 1)[1])
    except (OSError, ValueError):
        pass
    return None


def loadavg() -> float:
    """The 1-minute load average (other work on the machine skews wall-clock figures)."""
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except OSError:
        return float("nan")


def proc_memory(pid: int) -> dict:
    """VmHWM (peak resident set) and VmRSS of a process, in MiB, from /proc."""
    out = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(("VmHWM:", "VmRSS:")):
                key, value = line.split(":", 1)
                out[key] = int(value.split()[0]) / 1024
    except OSError:
        pass
    return {"peak_rss_mib": out.get("VmHWM"), "rss_mib": out.get("VmRSS")}
