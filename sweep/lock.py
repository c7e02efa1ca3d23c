"""One writer per store: an OS lock (``flock``) on a file beside the store's real location.

The lock file is ``<real store path>.lock``: every alias of a store (a symlink, a
relative path, ``..`` segments) resolves to the same file. The lock is held by the
kernel, so it dies with its holder (SIGKILL included): there is no stale lock to take
over and no race between contenders, however many. The file also names the holder's
pid, host, start time and command, for the refusal message and ``xorsweep status``.

Taking the lock: open (create) the file, ``flock(LOCK_EX | LOCK_NB)``, then check that
the path still names the inode locked (a releasing holder unlinks the file while it
still holds the lock; a contender that locked the unlinked inode retries).

A store at a URL (``s3://…``) has a lock object instead: ``sweep/objlock.py``.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import time
from pathlib import Path

from xorsweep.errors import UserError
from xorsweep.sweep import objlock
from xorsweep.sweep.location import Remote, as_location


def lock_path(store) -> Path:
    """``<store>.lock`` beside the store's real location (symlinks resolved)."""
    p = Path(os.path.realpath(store))
    return p.with_name(p.name + ".lock")


def holder(store) -> dict | None:
    """Who holds the store's lock now (pid, host, since, command), or None."""
    if isinstance(loc := as_location(store), Remote):
        return objlock.holder(loc)
    path = lock_path(store)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read(fd) or {"pid": "?", "host": "?"}
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _read(fd) -> dict:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        return json.loads(os.read(fd, 65536).decode() or "{}")
    except (OSError, ValueError):
        return {}


def refuse_if_held(store):
    """The refusal ``store_lock`` would give, without taking anything."""
    info = holder(store)
    if info:
        loc = as_location(store)
        raise UserError(objlock.busy(loc, info) if isinstance(loc, Remote) else _busy(store, info))


def _busy(store, info):
    return (f"store {store} is being written by pid {info.get('pid', '?')} on {info.get('host', '?')} since "
            f"{info.get('since', '?')}; wait for it, or stop it first")


@contextlib.contextmanager
def store_lock(store: str | os.PathLike | Remote, command: str = "", *, unsafe_no_lock=False):
    """Hold the store's lock for the duration of the block; refuse if a live run holds it.
    ``unsafe_no_lock``: on an object store without an atomic create, write anyway."""
    if isinstance(loc := as_location(store), Remote):
        with objlock.store_lock(loc, command, unsafe_no_lock=unsafe_no_lock):
            yield
        return
    path = lock_path(store)
    me = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
          "command": command}
    for _ in range(100):
        try:
            fd = os.open(path, os.O_CREAT | os.O_RDWR | os.O_NOFOLLOW, 0o644)
        except OSError as e:
            raise UserError(f"store {store}: cannot open its lock file {path} ({e.strerror})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            info = _read(fd)
            os.close(fd)
            raise UserError(_busy(store, info)) from None
        except OSError as e:
            os.close(fd)
            raise UserError(f"store {store}: the filesystem of {path} does not support file locks "
                            f"({e.strerror}); cannot guarantee a single writer") from None
        try:
            same = os.fstat(fd).st_ino == os.stat(path, follow_symlinks=False).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)  # we locked a file a releasing holder had just unlinked: try again
    else:
        raise UserError(f"store {store}: could not take the lock {path}")
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(me).encode(), 0)
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)  # while still holding the lock: see the module docstring
        os.close(fd)


def clear_stale(store):
    """Remove the lock file a killed holder left (its OS lock died with it); refuse, as
    ``store_lock`` does, if a live holder has it."""
    if isinstance(loc := as_location(store), Remote):
        return objlock.clear_stale(loc)
    if os.path.lexists(lock_path(store)) and holder(store) is None:
        with store_lock(store, "clearing a stale lock file"):
            pass
