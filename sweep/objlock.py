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
is known to be dead. S3 has no conditional delete, so a takeover is itself claimed first:
the object ``<store>.lock.takeover-<stale token>``, created with ``If-None-Match: *``.
Only its one creator may delete the stale lock (after reading it again: still that
token), and it removes the claim only once the stale lock is gone, so no run can ever
delete a lock made after the stale one (tokens are never reused). A claim whose creator
died mid-takeover is refused with the object to delete. Backends without an atomic create (only s3 has one through fsspec)
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


def _create(loc: Remote, body: bytes, key: str | None = None) -> bool:
    try:
        loc.fs.pipe_file(key or loc.sibling_lock, body, mode="create")
        return True
    except FileExistsError:
        return False
    except Exception as e:  # noqa: BLE001 - the backend's failure, as one line
        raise backend_error(loc, e) from None


def _remove_if_mine(loc: Remote, token: str):
    """Delete the lock object if it holds ``token``: its holder releasing it, or the one
    claimant of a takeover (``_take_over``): no one else can delete a lock of that token
    between the read and the delete, and no later lock has it."""
    with contextlib.suppress(Exception):
        if (_read(loc) or {}).get("token") == token:
            loc.fs.rm_file(loc.sibling_lock)


def _take_over(loc: Remote, stale: dict, me: dict) -> bool:
    """Remove a stale lock, claiming the takeover first (see the module docstring); False
    if another run holds the claim (the caller waits a moment and reads the lock again)."""
    token = stale.get("token")
    if not isinstance(token, str) or not token.isalnum():
        raise UserError(f"store {loc}: the lock object {loc.protocol}://{loc.sibling_lock} of a dead run has no "
                        "token; delete it once no run writes the store")
    claim = f"{loc.sibling_lock}.takeover-{token}"
    if not _create(loc, json.dumps(me).encode(), claim):
        try:
            other = json.loads(loc.fs.cat_file(claim).decode() or "{}")
        except FileNotFoundError:
            return False  # finished in between
        except Exception:  # noqa: BLE001 - unreadable: treated as a live claim
            return False
        if _stale(other):
            raise UserError(f"store {loc}: a run that was taking over the lock of a dead run died itself; delete "
                            f"{loc.protocol}://{claim} (and {loc.protocol}://{loc.sibling_lock} if it is still "
                            "there) once no run writes the store")
        return False
    try:
        _remove_if_mine(loc, token)
    finally:
        if (_read(loc) or {}).get("token") != token:  # only once the stale lock is gone
            with contextlib.suppress(Exception):
                loc.fs.rm_file(claim)
    return True


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
    for attempt in range(6):
        if _create(loc, body):
            break
        info = _read(loc)
        if info is None:
            continue  # released in between: try again
        if not _stale(info):
            raise UserError(busy(loc, info))
        if not _take_over(loc, info, me):  # a dead run of this host: take its lock over
            time.sleep(0.1 * (attempt + 1))  # another run is taking it over: then it holds it
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
        _take_over(loc, info, {"pid": os.getpid(), "host": socket.gethostname(),
                               "since": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "command": "clear_stale"})
