"""Output arrays whose memory is used again once every reference to them is gone.

``batch.train`` returns about 170 bytes per float32 network (the final parameters, the
activations, the decisions, the tracked steps): 11 MB at B = 65,536. Fresh memory of that
size comes from the kernel page by page at its first touch, and on the virtual machines
this project runs on a page fault costs about 3.4 µs (2026-12-04, AMD EPYC Zen 4): some
2,000 faults, 7 ms of a 95 ms float32 call on two threads. glibc gives such blocks back to
the system when they are freed, so every call faulted them in again.

``Recycler.empty`` hands out views of blocks (plain ``uint8`` numpy arrays) the recycler
keeps. numpy makes the block the ``base`` of every array derived from one it handed out
(views, slices, transposes; a memoryview or an xarray variable holds such an array), so a
block nobody else uses has exactly the recycler's own reference: ``sys.getrefcount`` 2.
Only such a block is handed out again. Nothing runs at collection time (no ``__del__``):
a result kept in a reference cycle keeps its block until the cycle is collected, then the
block is simply free, and a block can never be handed out while an array uses it. What the
recycler keeps is bounded (``limit`` bytes, free blocks let go oldest first, then busy
ones forgotten, i.e. left to numpy to free when their last array goes). Arrays smaller
than ``min_bytes`` come from glibc's heap, which keeps its pages, and are plain
``np.empty``; so are object arrays.

The reference count is exact in CPython with the GIL. Under a lock, a block with no other
reference cannot gain one except through the recycler, so checking it and handing it out
cannot race another thread. What count a free block shows is measured once, at import,
through the same code that checks the blocks (``_count``): interpreters may count a
function's argument differently (CPython 3.14 borrows references it used to take). Where
that measurement does not tell a free block from one with a single outside reference, or
where the GIL is off (a free-threaded build, where another thread's reference may not be
visible yet), the recycler hands out plain ``np.empty`` arrays: no reuse rather than a
guess.
"""
from __future__ import annotations

import os
import sys
import threading
import weakref

import numpy as np

_ALL = weakref.WeakSet()


def _count(blocks, i) -> int:
    """The reference count of blocks[i] as the recycler reads it (one code path for the
    check and for its calibration)."""
    return sys.getrefcount(blocks[i])


def _free_count():
    """The count ``_count`` gives a block only its list refers to, or None when it cannot
    be told from one with an outside reference (then nothing is recycled)."""
    if not getattr(sys, "_is_gil_enabled", lambda: True)():
        return None
    probe = [np.empty(1, np.uint8)]
    free = _count(probe, 0)
    held = probe[0]
    busy = _count(probe, 0)
    del held
    again = _count(probe, 0)
    return free if busy == free + 1 and again == free else None


#: what a free block's ``_count`` is here; None: recycling off
FREE_COUNT = _free_count()


class Recycler:
    def __init__(self, limit: int, min_bytes: int = 1 << 17):
        self.limit, self.min_bytes = int(limit), int(min_bytes)
        self._blocks = []  # every block handed out and still kept (uint8 arrays), oldest first
        self._lock = threading.Lock()
        _ALL.add(self)

    def _is_free(self, i) -> bool:
        return _count(self._blocks, i) == FREE_COUNT

    def empty(self, shape, dtype) -> np.ndarray:
        """``np.empty(shape, dtype)``, in a block used before when one of its size is free."""
        dtype = np.dtype(dtype)
        shape = tuple(int(n) for n in shape)
        nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if nbytes < self.min_bytes or dtype.hasobject or FREE_COUNT is None:
            return np.empty(shape, dtype)
        with self._lock:
            blocks = self._blocks
            for i in range(len(blocks) - 1, -1, -1):  # the newest first: likeliest in cache
                if blocks[i].nbytes == nbytes and self._is_free(i):
                    mem = blocks.pop(i)
                    break
            else:
                mem = np.empty(nbytes, np.uint8)  # numpy aligns it for any dtype
                if nbytes > self.limit:
                    return mem.view(dtype).reshape(shape)  # never kept
                self._bound(self.limit - nbytes)
            blocks.append(mem)  # now the newest
        # a view: its base, and that of every array made from it, is mem
        return mem.view(dtype).reshape(shape)

    def _bound(self, room):
        """Keep at most ``room`` bytes (lock held): free blocks go first, oldest first, then
        busy ones are forgotten (numpy frees them when their last array goes)."""
        blocks = self._blocks
        held = sum(b.nbytes for b in blocks)
        for busy_too in (False, True):
            i = 0
            while held > room and i < len(blocks):
                if busy_too or self._is_free(i):
                    held -= blocks.pop(i).nbytes
                else:
                    i += 1

    @property
    def free_bytes(self) -> int:
        """Bytes kept for reuse that no array uses now."""
        with self._lock:
            return sum(self._blocks[i].nbytes for i in range(len(self._blocks)) if self._is_free(i))

    @property
    def held_bytes(self) -> int:
        """Bytes of every block kept, free or in use (at most ``limit``)."""
        with self._lock:
            return sum(b.nbytes for b in self._blocks)

    def clear(self):
        """Let every block go (arrays still using one keep it, as numpy's own memory)."""
        with self._lock:
            self._blocks.clear()

    def _after_fork(self):
        # a fork while another thread held the lock would leave it held in the child forever
        self._lock = threading.Lock()


def _reset_locks():
    for r in list(_ALL):
        r._after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_locks)
