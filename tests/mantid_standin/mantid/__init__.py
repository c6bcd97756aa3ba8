"""TEST-ONLY STAND-IN for Mantid (https://www.mantidproject.org), used by insgan's plugin tests.

This package is NOT Mantid and must never be importable outside insgan's test suite: it lives under
``tests/mantid_standin/`` and is put on ``sys.path`` only by the ``mantid_standin`` fixture
(``tests/mantid_standin/fixture.py``) for the duration of the plugin tests, then removed again. It
implements, in plain Python, only the subset of ``mantid.kernel``, ``mantid.api`` and
``mantid.simpleapi`` that insgan's algorithms (``plugins/*.py``) and ``insgan_core.mantid_bridge`` use.
Real-Mantid tests check the marker ``__insgan_test_standin__`` and skip when they find it.
"""

__insgan_test_standin__ = True
__version__ = "0.0.0-insgan-test-standin"

from . import kernel  # noqa: E402,F401
from . import api  # noqa: E402,F401
