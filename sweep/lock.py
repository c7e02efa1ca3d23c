"""One writer per store: a lock file beside the store naming the holder's pid and host.

The lock is created with O_EXCL. A lock whose holder is dead (same host, and the pid is
gone or now belongs to a process started later) is stale: it is first renamed away, which
only one contender can do, and then taken like a free lock.
"""
from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from pathlib import Path

from xorsweep.sweep.errors import UserError

def lock_path(store) -> Path:
    """``<store>.lock``, beside the store: on the same storage, but not inside the Zarr tree."""
    p = Path(store)
    return p.with_name(p.name + ".lock")


def _boot_start(pid: int) -> str | None:
    """Start time of process ``pid`` in clock ticks since boot (None if it does not exist)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return "alive"


def _holder_alive(info: dict) -> bool:
    if info.get("host") != socket.gethostname():
        return True  # cannot tell from here: assume it is running
    started = _boot_start(int(info.get("pid", -1)))
    return started is not None and started in ("alive", info.get("proc_start"))


def _age(path: Path) -> float:
    try:
        return time.time() - path.stat().st_mtime
    except OSError:
        return 0.0


def _read(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


@contextlib.contextmanager
def store_lock(store: str | os.PathLike, command: str = ""):
    """Hold the store's lock for the duration of the block; refuse if a live run holds it."""
    path = lock_path(store)
    me = {"pid": os.getpid(), "host": socket.gethostname(), "proc_start": _boot_start(os.getpid()),
          "since": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "command": command}
    for _ in range(20):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            info = _read(path)
            if not info and _age(path) < 5.0:  # a contender between creating and filling it
                time.sleep(0.25)
                continue
            if info and _holder_alive(info):
                raise UserError(f"store {store} is being written by pid {info.get('pid')} on {info.get('host')} "
                                f"since {info.get('since')}; wait for it, or stop it first "
                                f"(if it is surely dead, remove {path})") from None
            with contextlib.suppress(FileNotFoundError):  # only one contender wins the rename
                stale = path.with_name(f"{path.name}.stale-{os.getpid()}")
                os.rename(path, stale)
                os.remove(stale)
            continue
        with os.fdopen(fd, "w") as f:
            json.dump(me, f)
        break
    else:
        raise UserError(f"store {store}: could not take the lock {path}")
    try:
        yield
    finally:
        if _read(path).get("pid") == me["pid"]:
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)
