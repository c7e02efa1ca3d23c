"""Output arrays whose memory is used again once every reference to them is gone.

``batch.train`` returns about 170 bytes per float32 network (the final parameters, the
activations, the decisions, the tracked steps): 11 MB at B = 65,536. Fresh memory of that
size comes from the kernel page by page at its first touch, and on the virtual machines
this project runs on a page fault costs about 3.4 µs (2026-12-04, AMD EPYC Zen 4): some
2,000 faults, 7 ms of a 95 ms float32 call on two threads. glibc gives such blocks back to
the system when they are freed, so every call faulted them in again.

``Recycler.empty`` hands out arrays whose memory returns to the recycler when the last
array (or view, or memoryview) using it is garbage-collected: exactly when ``free`` would
have released it, so no live array ever shares memory with a new one, and a result kept
by the caller is never written again. What the recycler holds meanwhile is bounded
(``limit`` bytes, the oldest blocks let go first). Arrays smaller than ``min_bytes`` come
from glibc's heap, which keeps its pages, and are plain ``np.empty``.
"""
from __future__ import annotations

import threading

import numpy as np


class _Lease:
    """The base object of a recycled array: numpy keeps it alive as long as any view of
    its memory; when it goes, its block goes back to the recycler."""

    __slots__ = ("_mem", "_recycler", "__array_interface__")

    def __init__(self, recycler, mem, shape, dtype):
        self._mem, self._recycler = mem, recycler
        self.__array_interface__ = {"shape": shape, "typestr": dtype.str, "data": (mem.ctypes.data, False),
                                    "version": 3}

    def __del__(self):
        self._recycler._give_back(self._mem)

    def _refuse(self, *args):
        # a second lease of the same block would give it back while the first's arrays live
        raise TypeError("a recycled array's memory owner cannot be copied or pickled; copy the array")

    __copy__ = __deepcopy__ = __reduce_ex__ = __reduce__ = _refuse


class Recycler:
    def __init__(self, limit: int, min_bytes: int = 1 << 17):
        self.limit, self.min_bytes = limit, min_bytes
        self._free = []  # blocks (uint8 arrays) no array uses any more, oldest first
        self._free_bytes = 0
        self._lock = threading.Lock()

    def empty(self, shape, dtype) -> np.ndarray:
        """``np.empty(shape, dtype)``, in a block used before when one of its size is free."""
        dtype = np.dtype(dtype)
        shape = tuple(int(n) for n in shape)
        nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if nbytes < self.min_bytes or dtype.hasobject:
            return np.empty(shape, dtype)
        mem = None
        with self._lock:
            for i in range(len(self._free) - 1, -1, -1):
                if self._free[i].nbytes == nbytes:
                    mem = self._free.pop(i)
                    self._free_bytes -= nbytes
                    break
        if mem is None:
            mem = np.empty(nbytes, np.uint8)  # numpy aligns it for any dtype
        return np.asarray(_Lease(self, mem, shape, dtype))

    def _give_back(self, mem):
        """Called by a lease's ``__del__``: in any thread, at any point (also inside
        ``empty`` on this thread, when a collection runs there); it never waits: when the
        lock is taken the block is simply freed."""
        if not self._lock.acquire(blocking=False):
            return
        try:
            self._free.append(mem)
            self._free_bytes += mem.nbytes
            while self._free_bytes > self.limit:
                self._free_bytes -= self._free.pop(0).nbytes
        finally:
            self._lock.release()

    @property
    def free_bytes(self) -> int:
        """Bytes held for reuse."""
        return self._free_bytes

    def clear(self):
        """Let every held block go."""
        with self._lock:
            self._free.clear()
            self._free_bytes = 0
