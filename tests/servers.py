"""Real servers that tests start as subprocesses (gunicorn, nginx): wait until one listens."""

from __future__ import annotations

import socket
import subprocess
import time


def wait_until_listening(proc: subprocess.Popen, port: int, *, what: str,
                         attempts: int = 100, pause: float = 0.1) -> None:
    """Return once 127.0.0.1:`port` accepts a connection; raise with the server's own
    error output if it exits first, or after `attempts` tries."""
    for _ in range(attempts):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(proc.stderr.read().decode()) from None
            time.sleep(pause)  # a readiness poll of another process, not a test's wait
    raise RuntimeError(f"{what} did not start")
