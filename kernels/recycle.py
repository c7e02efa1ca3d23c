"""Output arrays whose memory is used again once every reference to them is gone.

``batch.train`` returns about 170 bytes per float32 network (the final parameters, the
activations, the decisions, the tracked steps): 11 MB at B = 65,536. Fresh memory of that
size comes from the kernel page by page at its first touch, and on the virtual machines
this project runs on a page fault costs about 3.4 µs (2026-12-04, AMD EPYC Zen 4). In
``train``'s pattern of allocations glibc gave the pages back and took them again: some
2,000 faults, 7 ms of a 95 ms float32 call on two threads (measured with ``getrusage``;
a loop allocating, filling and freeing one 11 MB block alone stops faulting after two
rounds, as glibc raises its mmap threshold, so this depends on the pattern).

``Recycler.empty`` hands out views of blocks (plain ``uint8`` numpy arrays) the recycler
keeps. Every array derived from one it handed out refers to the block: as numpy's
``base`` (views, slices, transposes, dtype views) or through the object that holds it (a
memoryview, an xarray variable, ``as_strided``'s helper, a DLPack capsule, a masked
array). So a block nobody uses has exactly the recycler's own reference, and only such a
block is handed out again. Nothing runs at collection time (no ``__del__``): a result kept
in a reference cycle keeps its block until the cycle is collected. What the recycler keeps
is bounded (``limit`` bytes: free blocks let go oldest first, then busy ones forgotten,
i.e. left to numpy to free when their last array goes). Arrays smaller than ``min_bytes``
come from glibc's heap, which keeps its pages, and are plain ``np.empty``; so are object
and subarray dtypes, and anything ``np.empty`` would refuse (it then says why).

The reference count is exact in CPython with the GIL. Under the lock, a block with no
other reference cannot gain one except through the recycler, so checking it and handing
it out cannot race another thread. A free block's count is not assumed: each scan reads
it from a sentinel block nobody else ever sees, through the same function and in the same
scan as the blocks it judges (interpreters count a call's argument differently, CPython
3.14 borrows references it used to take, and a specialised or compiled path could differ
from a cold one). At import the recycler also checks that one outside reference raises
that count by one. Where it does not, where ``sys.getrefcount`` is missing (PyPy), or
while the GIL is off (free-threaded builds, where another thread's reference may not be
visible yet), ``empty`` hands out plain ``np.empty`` arrays: no reuse rather than a guess.
So does a call that finds the lock taken (another thread, or a signal handler or a
finalizer running inside ``empty`` on this thread): it never waits.
"""
from __future__ import annotations

import math
import os
import sys
import threading
import weakref

import numpy as np

_ALL = weakref.WeakSet()


def _count(blocks, i) -> int:
    """The reference count of blocks[i] as the recycler reads it: one function for the
    sentinel and for the blocks it judges."""
    return sys.getrefcount(blocks[i])


def _counts_tell_apart() -> bool:
    """Whether ``_count`` tells a block only its list refers to from one with a single
    outside reference (by exactly one); if not, nothing is recycled."""
    if not hasattr(sys, "getrefcount"):
        return False
    probe = [np.empty(1, np.uint8)]
    free = _count(probe, 0)
    held = probe[0]
    busy = _count(probe, 0)
    del held
    return busy == free + 1 and _count(probe, 0) == free


def _gil_on() -> bool:
    return getattr(sys, "_is_gil_enabled", lambda: True)()


#: whether reference counts can decide reuse in this interpreter (checked at import)
COUNTS_OK = _counts_tell_apart()


class Recycler:
    def __init__(self, limit: int, min_bytes: int = 1 << 17):
        self.limit, self.min_bytes = int(limit), int(min_bytes)
        self._blocks = []  # every block handed out and still kept (uint8 arrays), oldest first
        self._sentinel = [np.empty(1, np.uint8)]  # never handed out: always free
        self._lock = threading.Lock()
        _ALL.add(self)

    def _free_count(self) -> int:
        """A free block's count, read now, as the blocks' are."""
        return _count(self._sentinel, 0)

    def empty(self, shape, dtype) -> np.ndarray:
        """``np.empty(shape, dtype)``, in a block used before when one of its size is free."""
        dtype = np.dtype(dtype)
        try:
            shape = tuple(int(n) for n in shape)
        except TypeError:  # an int, as np.empty takes
            shape = (int(shape),)
        if any(n < 0 for n in shape):
            return np.empty(shape, dtype)  # numpy's own message
        nbytes = math.prod(shape) * dtype.itemsize
        if (nbytes < self.min_bytes or nbytes > self.limit or dtype.hasobject or dtype.subdtype is not None
                or not COUNTS_OK or not _gil_on()):
            return np.empty(shape, dtype)
        if not self._lock.acquire(blocking=False):
            return np.empty(shape, dtype)  # taken: another thread, or re-entry on this one
        try:
            blocks, mem = self._blocks, None
            free = self._free_count()
            for i in range(len(blocks) - 1, -1, -1):  # the newest first: likeliest in cache
                if blocks[i].nbytes == nbytes and _count(blocks, i) == free:
                    mem = blocks.pop(i)
                    break
            if mem is None:
                mem = np.empty(nbytes, np.uint8)  # numpy aligns it for any dtype
                self._bound(self.limit - nbytes)
            blocks.append(mem)  # now the newest
        finally:
            self._lock.release()
        # a view: its base, and that of every view made from it, is mem
        return mem.view(dtype).reshape(shape)

    def _bound(self, room):
        """Keep at most ``room`` bytes (lock held): free blocks go first, oldest first, then
        busy ones are forgotten (numpy frees them when their last array goes)."""
        blocks = self._blocks
        held = sum(b.nbytes for b in blocks)
        free = self._free_count()
        for busy_too in (False, True):
            i = 0
            while held > room and i < len(blocks):
                if busy_too or _count(blocks, i) == free:
                    held -= blocks.pop(i).nbytes
                else:
                    i += 1

    @property
    def free_bytes(self) -> int:
        """Bytes kept for reuse that no array uses now."""
        with self._lock:
            free = self._free_count()
            return sum(self._blocks[i].nbytes for i in range(len(self._blocks)) if _count(self._blocks, i) == free)

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
