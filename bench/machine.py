"""What the benchmark ran on, and where the CPU went (read from /proc, Linux only)."""

import os
import platform
from pathlib import Path

PROC = Path("/proc")
_TICK = os.sysconf("SC_CLK_TCK")


def _read(path) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def cpu_model() -> str:
    for line in _read(PROC / "cpuinfo").splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def memory_gib() -> float:
    for line in _read(PROC / "meminfo").splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) / 1024 / 1024
    return 0.0


def busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy (not idle, not waiting for I/O), all cores."""
    fields = [int(value) for value in _read(PROC / "stat").split("\n", 1)[0].split()[1:9]]
    idle, iowait = fields[3], fields[4]
    return (sum(fields) - idle - iowait) / _TICK


def _stat(pid) -> tuple[int, float] | None:
    """(parent pid, CPU seconds used) of a process, or None if it is gone."""
    text = _read(PROC / str(pid) / "stat")
    if not text:
        return None
    # The command name may hold spaces; the fields after its closing parenthesis do not.
    fields = text.rsplit(")", 1)[1].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICK


def _processes():
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            yield int(entry.name), _read(entry / "comm").strip()


def pids_named(*names) -> list[int]:
    """Processes whose command name is one of ``names`` (e.g. mariadbd, redis-server)."""
    return [pid for pid, comm in _processes() if comm in names]


def tree_cpu(root_pid) -> float:
    """CPU seconds used so far by a process and its children (gunicorn master and workers)."""
    total = 0.0
    for pid, _ in _processes():
        stat = _stat(pid)
        if stat and (pid == root_pid or stat[0] == root_pid):
            total += stat[1]
    return total


def cpu_of(pids) -> float:
    """CPU seconds used so far by ``pids`` together."""
    return sum(stat[1] for stat in map(_stat, pids) if stat)
