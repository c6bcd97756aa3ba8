# SPDX-License-Identifier: GPL-3.0-or-later
"""Threading policy of the spin-wave solver: threaded Q chunks give the same numbers; BLAS limit restored."""

from __future__ import annotations

import numpy as np
import pytest

from insgan_core.errors import InsganInputError
from insgan_core.spinwave import SpinWaveCalculator, load_model
from insgan_core.spinwave.parallel import default_workers, map_chunks, resolve_workers, single_blas_thread


@pytest.mark.parametrize("name", ["square_afm", "triangular_afm"])
def test_threaded_chunks_equal_serial(name):
    q = np.random.default_rng(3).uniform(-1.0, 1.0, size=(700, 3))
    serial = SpinWaveCalculator(load_model(name), workers=1).modes(q)
    threaded = SpinWaveCalculator(load_model(name), workers=3, chunk_size=100).modes(q)
    np.testing.assert_array_equal(threaded.energies, serial.energies)
    np.testing.assert_array_equal(threaded.sperp, serial.sperp)


def test_single_blas_thread_limits_and_restores():
    from threadpoolctl import threadpool_info

    def blas_threads():
        return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]

    before = blas_threads()
    with single_blas_thread():
        with single_blas_thread():  # nested: still limited, restored only by the outer exit
            assert all(n == 1 for n in blas_threads())
        assert all(n == 1 for n in blas_threads())
    assert blas_threads() == before


def test_map_chunks_keeps_order_and_workers_validation(monkeypatch):
    assert map_chunks(lambda x: x * x, list(range(9)), workers=4) == [x * x for x in range(9)]
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert default_workers() == 3
    assert resolve_workers(None) == 3
    assert resolve_workers(2) == 2
    for bad in (0, -1, 1.5, "two"):
        with pytest.raises(InsganInputError, match="workers"):
            resolve_workers(bad)
    with pytest.raises(InsganInputError, match="workers"):
        SpinWaveCalculator(load_model("afm_chain"), workers=0)
