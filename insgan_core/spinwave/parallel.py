"""Threading policy of the spin-wave solver: one BLAS thread per solve, Q chunks spread over a thread pool.

The solver's work is many independent eigen/Cholesky decompositions of *small* matrices (2n × 2n for an
n-site cell, batched over Q). Multi-threaded OpenBLAS splits each small matrix over its threads, and the
synchronisation costs far more than the arithmetic: measured on 2 cores, batched ``numpy.linalg.eigh`` of
32 × 32 matrices runs 7–40× slower with 2 BLAS threads than with 1 (a 16-site single-crystal job
0.49 s → 4.5–12 s). The efficient split is the other way round: limit BLAS to one thread and give each
core its own chunk of wavevectors (numpy releases the GIL inside LAPACK, so Python threads run truly in
parallel there).

:func:`single_blas_thread` limits BLAS (OpenBLAS, MKL, BLIS; via ``threadpoolctl``) to one thread for the
duration of a block; it is reference-counted, so nested or concurrent uses from several threads set the
limit once and restore the original setting only when the last one leaves. :func:`default_workers`
chooses how many chunks run at once.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Callable, Iterator, Sequence, TypeVar

from ..errors import InsganInputError

__all__ = ["single_blas_thread", "single_torch_thread", "default_workers", "resolve_workers", "map_chunks",
           "MAX_DEFAULT_WORKERS"]

T = TypeVar("T")
R = TypeVar("R")

#: Upper bound of the automatic worker count (beyond this the solver is memory-bandwidth bound).
MAX_DEFAULT_WORKERS = 8

_lock = threading.Lock()
_depth = 0
_limiter = None  # the active threadpoolctl limiter while _depth > 0
_controller = None  # cached ThreadpoolController (scanning the loaded libraries costs ~1 ms)


def _blas_controller():
    global _controller
    if _controller is None:
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController()
    return _controller


@contextmanager
def single_blas_thread() -> Iterator[None]:
    """Limit BLAS/LAPACK libraries to one thread inside the block (process-wide, reference-counted).

    Notes
    -----
    BLAS thread counts are process-global, so the limit also applies to BLAS calls made by other threads
    of the process while the block runs; the original counts are restored when the outermost (last)
    block exits.
    """
    global _depth, _limiter
    with _lock:
        if _depth == 0:
            _limiter = _blas_controller().limit(limits=1, user_api="blas")
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _limiter is not None:
                _limiter.restore_original_limits()
                _limiter = None


_torch_depth = 0
_torch_threads = None  # torch's intra-op thread count before the outermost single_torch_thread block


@contextmanager
def single_torch_thread() -> Iterator[None]:
    """Limit torch's intra-op threads to one inside the block (process-wide, reference-counted).

    For batched small-matrix torch calls made from several worker threads (each already a core's worth of
    work): intra-op threads on top of them oversubscribe the cores. The original count is restored when
    the outermost block exits.
    """
    global _torch_depth, _torch_threads
    import torch

    with _lock:
        if _torch_depth == 0:
            _torch_threads = torch.get_num_threads()
            torch.set_num_threads(1)
        _torch_depth += 1
    try:
        yield
    finally:
        with _lock:
            _torch_depth -= 1
            if _torch_depth == 0 and _torch_threads is not None:
                torch.set_num_threads(_torch_threads)
                _torch_threads = None


def _available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 1


def default_workers() -> int:
    """Number of solver threads used when ``workers=None``.

    The thread budget the environment grants: ``OMP_NUM_THREADS`` (then ``OPENBLAS_NUM_THREADS``,
    ``MKL_NUM_THREADS``) if set to a positive integer, else the CPUs this process may run on
    (``os.sched_getaffinity``), capped at :data:`MAX_DEFAULT_WORKERS`. Processes that already run one
    job per core (e.g. dask workers, which set ``OMP_NUM_THREADS=1``) therefore get one worker.
    """
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        value = os.environ.get(variable, "").strip()
        if value.isdigit() and int(value) > 0:
            return min(int(value), MAX_DEFAULT_WORKERS)
    return max(1, min(_available_cpus(), MAX_DEFAULT_WORKERS))


def resolve_workers(workers: int | None, *, name: str = "workers") -> int:
    """``workers`` as a positive int (None → :func:`default_workers`); raises for < 1 or non-integers."""
    if workers is None:
        return default_workers()
    try:
        value = int(workers)
    except (TypeError, ValueError):
        raise InsganInputError(f"{name} = {workers!r}; give a positive number of threads or None (automatic)") from None
    if value != workers or value < 1:
        raise InsganInputError(f"{name} = {workers!r}; give a positive number of threads or None (automatic)")
    return value


def map_chunks(func: Callable[[T], R], parts: Sequence[T], *, workers: int) -> list[R]:
    """``[func(p) for p in parts]`` with BLAS limited to one thread, on ``workers`` threads when > 1.

    Results keep the order of ``parts``; the first exception raised by ``func`` propagates.
    """
    with single_blas_thread():
        if workers <= 1 or len(parts) <= 1:
            return [func(p) for p in parts]
        with ThreadPoolExecutor(min(workers, len(parts))) as pool:
            return list(pool.map(func, parts))
