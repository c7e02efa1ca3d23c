"""kernels.recycle: memory used again only once nothing refers to it."""
import gc
import pickle
import subprocess
import sys
import threading

import numpy as np
import pytest

from xorsweep.kernels.recycle import Recycler

KB = 1 << 10


def address(a):
    return a.__array_interface__["data"][0]


def test_a_dropped_array_s_memory_is_used_again_and_a_kept_one_s_is_not():
    r = Recycler(limit=1 << 20, min_bytes=4 * KB)
    a = r.empty((1000, 3), np.float64)
    where = address(a)
    b = r.empty((1000, 3), np.float64)  # a is alive: other memory
    assert not np.may_share_memory(a, b)
    del a
    assert r.free_bytes == 24000
    c = r.empty((3000,), np.float64)  # the same size, another shape: a's block
    assert address(c) == where and r.free_bytes == 0
    d = r.empty((24000,), np.uint8)  # nothing free of that size: new memory
    assert not any(np.may_share_memory(d, x) for x in (b, c))


@pytest.mark.parametrize("keep", ["view", "memoryview", "slice", "transpose", "xarray"])
def test_any_reference_to_the_memory_keeps_it(keep):
    """A view, a memoryview, a slice or an xarray variable holding the array keeps its block
    out of the recycler; the block comes back when the last of them goes."""
    r = Recycler(limit=1 << 20, min_bytes=4 * KB)
    a = r.empty((512, 4), np.float32)
    a[:] = np.arange(a.size, dtype=np.float32).reshape(a.shape)
    if keep == "xarray":
        import xarray as xr

        held = xr.DataArray(a, dims=("network", "row"))
    else:
        held = {"view": lambda: a.view(np.int32), "memoryview": lambda: memoryview(a), "slice": lambda: a[100:101],
                "transpose": lambda: a.T}[keep]()
    want = a.copy()
    del a
    gc.collect()
    assert r.free_bytes == 0
    others = [r.empty((512, 4), np.float32) for _ in range(3)]
    for o in others:
        o.fill(-1)
    got = np.asarray(held)
    if keep == "view":
        got = got.view(np.float32)
    np.testing.assert_array_equal(np.asarray(got, np.float32).reshape(-1), want.T.reshape(-1) if keep == "transpose"
                                  else want[100:101].reshape(-1) if keep == "slice" else want.reshape(-1))
    del held, got
    gc.collect()
    assert r.free_bytes == 512 * 4 * 4


def test_what_it_holds_is_bounded_and_the_oldest_goes_first():
    r = Recycler(limit=100 * KB, min_bytes=KB)
    blocks = [r.empty((k * KB,), np.uint8) for k in (10, 20, 30, 40, 50)]
    while blocks:
        blocks.pop(0)  # given back in the order 10, 20, 30, 40, 50 KB
        assert r.free_bytes <= 100 * KB
    assert r.free_bytes == 90 * KB  # 40 + 50: 10, 20 and 30 let go, the oldest first
    got = r.empty((40 * KB,), np.uint8)
    assert r.free_bytes == 50 * KB and got.nbytes == 40 * KB


def test_the_memory_owner_cannot_be_copied():
    """A copy of a block's owner would give the block back while the original's arrays live."""
    import copy

    r = Recycler(limit=1 << 20, min_bytes=KB)
    a = r.empty((4096,), np.uint8)
    for make in (copy.copy, copy.deepcopy, pickle.dumps):
        with pytest.raises(TypeError):
            make(a.base)
    assert pickle.loads(pickle.dumps(a)).nbytes == a.nbytes  # the array itself pickles (a copy)
    r.clear()
    assert r.free_bytes == 0


def test_small_and_object_arrays_are_plain():
    r = Recycler(limit=1 << 20, min_bytes=4 * KB)
    small = r.empty((10,), np.float64)
    assert small.base is None and small.flags.owndata
    obj = r.empty((10000,), object)
    assert obj.dtype == object and obj.base is None
    del small, obj
    assert r.free_bytes == 0


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int32, np.int8, np.bool_, np.complex128])
def test_arrays_are_ordinary_arrays(dtype):
    r = Recycler(limit=1 << 20, min_bytes=KB)
    a = r.empty((300, 7), dtype)
    assert a.shape == (300, 7) and a.dtype == dtype and a.flags.c_contiguous and a.flags.writeable
    assert a.__array_interface__["data"][0] % a.dtype.alignment == 0
    a[...] = 1
    b = pickle.loads(pickle.dumps(a))
    assert b.dtype == dtype and np.array_equal(a, b) and not np.may_share_memory(a, b)
    assert np.add(a, a).flags.owndata


def test_threads_never_see_each_others_memory():
    """Four threads take arrays, write their own pattern, drop them in random orders (from
    other threads too): no array is ever written by anyone else while alive."""
    r = Recycler(limit=64 * KB, min_bytes=KB)
    errors = []
    handoff = []

    def work(k):
        rng = np.random.default_rng(k)
        held = []
        for i in range(2000):
            a = r.empty((int(rng.integers(1, 4)) * 256,), np.int64)
            a.fill(k * 100000 + i)
            held.append((a, k * 100000 + i))
            if len(held) > 5:
                handoff.append(held.pop(int(rng.integers(len(held)))))  # dropped by another thread, maybe
            if handoff and rng.random() < 0.5:
                try:
                    b, v = handoff.pop()
                except IndexError:
                    continue
                if not (b == v).all():
                    errors.append((k, v))
        for a, v in held:
            if not (a == v).all():
                errors.append((k, v))

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for b, v in handoff:
        assert (b == v).all()
    assert not errors
    assert r.free_bytes <= 64 * KB


def test_a_give_back_while_the_lock_is_held_does_not_wait():
    r = Recycler(limit=1 << 20, min_bytes=KB)
    a = r.empty((4096,), np.uint8)
    with r._lock:  # as inside empty(), when a collection frees a lease on this thread
        del a  # would deadlock if the give-back waited
    assert r.free_bytes == 0  # the block was simply freed


def test_arrays_alive_at_exit_leave_no_error():
    code = ("import numpy as np\nfrom xorsweep.kernels.recycle import Recycler\n"
            "r = Recycler(1 << 20, 1024)\nkept = [r.empty((1000,), np.float64) for _ in range(5)]\n"
            "class Cycle:\n    pass\nc = Cycle(); c.self = c; c.a = r.empty((2000,), np.float64)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stderr == "", done.stderr
