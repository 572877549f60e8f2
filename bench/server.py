"""The app under gunicorn in a child process: started, waited for, and always stopped."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Gunicorn:
    """``gunicorn wsgi:app`` (or another ``app``) on 127.0.0.1:``port``, its output in
    ``log_path``; ``options`` are more of gunicorn's command-line options.

    The settings are the repository's ``gunicorn.conf.py`` (gthread), as `make run` and the
    deployment use; ``threads`` 1 switches to gunicorn's sync worker.
    """

    def __init__(
        self, port, workers, threads, env, log_path, keep_alive=None, app="wsgi:app", options=()
    ):
        self.port = port
        self.workers = workers
        self.threads = threads
        self.keep_alive = keep_alive
        self.app = app
        self.options = list(options)
        self.env = env
        self.log_path = Path(log_path)
        self.process = None
        self.host = "127.0.0.1"
        self.url = f"http://{self.host}:{port}"

    def start(self):
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            self.app,
            f"--config={ROOT / 'gunicorn.conf.py'}",
            f"--bind=127.0.0.1:{self.port}",
            f"--workers={self.workers}",
            f"--threads={self.threads}",
            *(["--worker-class=sync"] if self.threads == 1 else []),
            "--graceful-timeout=5",
            "--log-level=warning",
            *([] if self.keep_alive is None else [f"--keep-alive={self.keep_alive}"]),
            # No --access-logfile: gunicorn writes no access log unless given one.
            *self.options,
        ]
        with self.log_path.open("wb") as log:
            # A session of its own, so a Ctrl-C in the terminal reaches us, not gunicorn directly,
            # and stop() can take down the master with its workers.
            self.process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def wait_ready(self, timeout: float):
        """Return once /livez answers 200; raise if gunicorn exits or ``timeout`` passes."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                code = self.process.returncode
                raise RuntimeError(f"gunicorn exited ({code}):\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/livez", timeout=1) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        raise RuntimeError(f"gunicorn not ready after {timeout:.0f} s:\n{self.log_tail()}")

    def log_tail(self, lines=30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self):
        """Stop gracefully (SIGTERM to the master), then kill its process group if it lingers."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
