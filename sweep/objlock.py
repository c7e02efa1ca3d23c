"""One writer per store on an object store: a lock object made by a conditional PUT.

The lock is the object ``<store>.lock`` beside the store, created with ``If-None-Match: *``
(s3fs ``pipe_file(mode="create")``): of any number of contenders exactly one creation
succeeds, the others get "precondition failed". It holds the holder's pid, host, start
time, command and a random token; the holder deletes it at the end (only if the token is
still its own). Servers that ignore the condition (some S3-compatible ones) are found
out: right after taking the lock, a second conditional PUT of the same object must fail;
if it succeeds, the lock is released and the write refused.

An object lock does not die with its holder (SIGKILL, a lost machine). A stale lock of
this host is recognised (its pid is gone) and taken over; one of another host cannot be
checked from here: the refusal names the holder and the object to delete once that run
is known to be dead. Backends without an atomic create (only s3 has one through fsspec)
are refused unless the caller opts out of the single-writer guarantee.
"""
from __future__ import annotations

import contextlib
import json
import os
import socket
import time
import uuid

from xorsweep.errors import UserError
from xorsweep.sweep.location import Remote, backend_error

#: protocols whose fsspec filesystem makes ``pipe_file(mode="create")`` one atomic request
ATOMIC_CREATE = ("s3", "s3a")


def holder(loc: Remote) -> dict | None:
    """Who holds the store's lock object now (pid, host, since, command), or None (no lock
    object, or one left by a dead run of this host, which the next writer takes over)."""
    info = _read(loc)
    return None if info is None or _stale(info) else info


def _read(loc: Remote) -> dict | None:
    try:
        return json.loads(loc.fs.cat_file(loc.sibling_lock).decode() or "{}")
    except FileNotFoundError:
        return None
    except ValueError:
        return {"pid": "?", "host": "?"}
    except Exception as e:  # noqa: BLE001 - the backend's failure, as one line
        raise backend_error(loc, e) from None


def _stale(info: dict) -> bool:
    """A lock of this host whose process is gone (one of another host cannot be checked)."""
    if info.get("host") != socket.gethostname() or not isinstance(info.get("pid"), int):
        return False
    try:
        os.kill(info["pid"], 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def busy(loc: Remote, info: dict) -> str:
    text = (f"store {loc} is being written by pid {info.get('pid', '?')} on {info.get('host', '?')} since "
            f"{info.get('since', '?')}; wait for it, or stop it first")
    if info.get("host") != socket.gethostname():
        text += f" (if that run is dead, delete the lock object {loc.protocol}://{loc.sibling_lock})"
    return text


def _create(loc: Remote, body: bytes) -> bool:
    try:
        loc.fs.pipe_file(loc.sibling_lock, body, mode="create")
        return True
    except FileExistsError:
        return False
    except Exception as e:  # noqa: BLE001 - the backend's failure, as one line
        raise backend_error(loc, e) from None


def _remove_if_mine(loc: Remote, token: str):
    # S3 has no conditional delete: re-read, then delete. Two runs taking over the same
    # stale lock at once can in principle both pass this check (a window of one request)
    with contextlib.suppress(Exception):
        if (_read(loc) or {}).get("token") == token:
            loc.fs.rm_file(loc.sibling_lock)


@contextlib.contextmanager
def store_lock(loc: Remote, command: str = "", *, unsafe_no_lock=False):
    """Hold the lock object for the duration of the block; refuse if another run holds it."""
    if unsafe_no_lock:  # the caller guarantees a single writer (run --no-lock)
        yield
        return
    if loc.protocol not in ATOMIC_CREATE:
        raise UserError(f"store {loc}: {loc.protocol}:// has no atomic create here, so a single writer cannot "
                        "be guaranteed; run with --no-lock if you are sure no other run writes it")
    token = uuid.uuid4().hex
    me = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
          "command": command, "token": token}
    body = json.dumps(me).encode()
    for _ in range(3):
        if _create(loc, body):
            break
        info = _read(loc)
        if info is None:
            continue  # released in between: try again
        if not _stale(info):
            raise UserError(busy(loc, info))
        _remove_if_mine(loc, info.get("token", ""))  # a dead run of this host: take its lock over
    else:
        raise UserError(f"store {loc}: could not take the lock object {loc.sibling_lock}")
    try:
        if _create(loc, body):  # the server ignored If-None-Match: no lock at all
            raise UserError(f"store {loc}: the server ignores conditional writes (If-None-Match), so a single "
                            "writer cannot be guaranteed; run with --no-lock if you are sure no other run writes it")
        yield
    finally:
        _remove_if_mine(loc, token)


def clear_stale(loc: Remote):
    """Remove a lock object left by a dead run of this host; a live one, or one of another
    host (not checkable from here), is left alone."""
    info = _read(loc)
    if info is not None and _stale(info):
        _remove_if_mine(loc, info.get("token", ""))
