"""insgan: make simulated inelastic neutron scattering maps look like ISIS spectrometer data.

Layers (imports point downward only):

- ``insgan_core.data``        data model (INSMap, Axis), file I/O, detector space -> S(|Q|,E)
- ``insgan_core.spinwave``    linear spin-wave theory, model files, powder averaging
- ``insgan_core.instrument``  resolution (resins), coverage, backgrounds, noise, Monte-Carlo, datasets
- ``insgan_core.gan``         networks, normalisation, training, model files, inference, metrics
- ``insgan_core.mantid_bridge``  Mantid workspaces <-> INSMap (imports mantid lazily)
- ``insgan_core.cli``         the ``insgan`` command line
"""

from ._version import __version__
from .data import Axis, INSMap, MapMetadata, MapStack, parse_binning
from .errors import InsganFileError, InsganInputError, SpinWaveInstabilityError

__all__ = [
    "__version__",
    "Axis",
    "INSMap",
    "MapMetadata",
    "MapStack",
    "parse_binning",
    "InsganInputError",
    "InsganFileError",
    "SpinWaveInstabilityError",
]
