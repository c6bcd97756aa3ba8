"""TEST-ONLY STAND-IN for the subset of ``mantid.kernel`` that insgan's plugins use.

This is NOT Mantid. It exists so that the insgan algorithm files in ``plugins/`` can be exercised by
pytest on machines without Mantid (Mantid is conda-only). It models only what the plugins and the
bridge call: ``Direction``, the validators (``FloatBoundedValidator``, ``IntBoundedValidator``,
``StringListValidator``, ``StringMandatoryValidator``, ``CompositeValidator``), scalar properties,
``StringArrayProperty`` / ``FloatArrayProperty`` and ``logger``. Behaviour follows Mantid's documented
behaviour: a value that fails its validator is refused by ``setProperty`` with a ``ValueError``.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "Direction",
    "logger",
    "FloatBoundedValidator",
    "IntBoundedValidator",
    "StringListValidator",
    "StringMandatoryValidator",
    "CompositeValidator",
    "Property",
    "StringArrayProperty",
    "FloatArrayProperty",
    "ConfigService",
    "config",
]


class Direction:
    Input = 0
    Output = 1
    InOut = 2


class _Logger:
    """Collects messages as (level, text) in ``messages`` so tests can inspect what was logged."""

    def __init__(self):
        self.messages: list[tuple[str, str]] = []

    def _log(self, level, msg):
        self.messages.append((level, str(msg)))

    def debug(self, msg):
        self._log("debug", msg)

    def information(self, msg):
        self._log("information", msg)

    def notice(self, msg):
        self._log("notice", msg)

    def warning(self, msg):
        self._log("warning", msg)

    def error(self, msg):
        self._log("error", msg)


logger = _Logger()


# --- validators: isValid(value) returns "" when valid, else the reason -----------------------------
class _Validator:
    def isValid(self, value) -> str:  # noqa: N802 (Mantid's name)
        return ""


class FloatBoundedValidator(_Validator):
    def __init__(self, lower=None, upper=None, exclusive=False):
        self.lower, self.upper, self.exclusive = lower, upper, exclusive

    def isValid(self, value):  # noqa: N802
        if self.lower is not None and (value <= self.lower if self.exclusive else value < self.lower):
            return f"Selected value {value} is {'<=' if self.exclusive else '<'} the lower bound ({self.lower})"
        if self.upper is not None and (value >= self.upper if self.exclusive else value > self.upper):
            return f"Selected value {value} is {'>=' if self.exclusive else '>'} the upper bound ({self.upper})"
        return ""


class IntBoundedValidator(FloatBoundedValidator):
    pass


class StringListValidator(_Validator):
    def __init__(self, allowed=()):
        self.allowed = list(allowed)

    def allowedValues(self):  # noqa: N802
        return list(self.allowed)

    def isValid(self, value):  # noqa: N802
        if value not in self.allowed:
            return f'The value "{value}" is not in the list of allowed values'
        return ""


class StringMandatoryValidator(_Validator):
    def isValid(self, value):  # noqa: N802
        return "A value must be entered for this parameter" if not str(value).strip() else ""


class CompositeValidator(_Validator):
    def __init__(self, validators=()):
        self.validators = list(validators)

    def add(self, validator):
        self.validators.append(validator)

    def isValid(self, value):  # noqa: N802
        for v in self.validators:
            msg = v.isValid(value)
            if msg:
                return msg
        return ""


# --- properties -----------------------------------------------------------------------------------
class Property:
    """A named, typed, validated value. ``type_`` is the Python type of the default value."""

    def __init__(self, name, defaultValue=None, validator=None, direction=Direction.Input, doc="", type_=None):  # noqa: N803
        self.name = name
        self.type_ = type_ if type_ is not None else type(defaultValue)
        self.default = defaultValue
        self._value = defaultValue
        self.validator = validator
        self.direction = direction
        self.documentation = doc
        self.isDefault = True  # noqa: N815 (Mantid's name)
        self.group = ""

    @property
    def value(self):
        return self._value

    def _convert(self, value):
        t = self.type_
        if t is bool:
            if isinstance(value, (bool, np.bool_, int)):
                return bool(value)
            if isinstance(value, str) and value.strip().lower() in ("0", "1", "true", "false"):
                return value.strip().lower() in ("1", "true")
        elif t is int:
            if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
                return int(value)
            if isinstance(value, str):
                try:
                    return int(value)
                except ValueError:
                    pass
        elif t is float:
            if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
                return float(value)
            if isinstance(value, str):
                try:
                    return float(value)
                except ValueError:
                    pass
        elif t is str:
            if isinstance(value, str):
                return value
        else:
            return value
        raise TypeError(f"Property '{self.name}' expects a value of type {t.__name__}, got {value!r}")

    def setValue(self, value):  # noqa: N802
        converted = self._convert(value)
        msg = self.validator.isValid(converted) if self.validator is not None else ""
        if msg:
            raise ValueError(f'Invalid value for property {self.name} ({self.type_.__name__}) from "{value}": {msg}')
        self._value = converted
        self.isDefault = False

    def isValid(self) -> str:  # noqa: N802
        return self.validator.isValid(self._value) if self.validator is not None else ""

    def valueAsStr(self) -> str:  # noqa: N802
        return "" if self._value is None else str(self._value)


class _ArrayProperty(Property):
    element = str

    def __init__(self, name, values=None, validator=None, direction=Direction.Input, doc=""):
        super().__init__(name, list(values or []), validator, direction, doc, type_=list)

    def _convert(self, value):
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        try:
            return [self.element(v) for v in value]
        except (TypeError, ValueError):
            raise TypeError(f"Property '{self.name}' expects a list of {self.element.__name__}, got {value!r}") from None

    @property
    def value(self):
        # Mantid returns array properties through its vector -> numpy converters (PropertyWithValue export):
        # a numpy array, also for strings. Code may iterate, index and len() it, but not test its truth value
        # or compare it with a list; the stand-in returns the array so such code fails here too.
        if self.element is float:
            return np.asarray(self._value, dtype=float)
        return np.asarray(self._value, dtype=str) if self._value else np.empty(0, dtype=str)

    def valueAsStr(self):  # noqa: N802
        return ",".join(str(v) for v in self._value)


class StringArrayProperty(_ArrayProperty):
    element = str


class FloatArrayProperty(_ArrayProperty):
    element = float


# --- ConfigService (Framework/Kernel/src/ConfigService.cpp; Python: mantid.kernel.config) -----------
class _ConfigService:
    """Key -> string settings, as Mantid's ConfigService; unknown keys read as ""."""

    def __init__(self):
        self._values = {
            "MultiThreaded.MaxCores": "0",
            "datasearch.directories": "",
            "defaultsave.directory": "",
            "user.python.plugins.directories": "",
        }

    def getString(self, key, pathAbsolute=True):  # noqa: N802,N803
        return str(self._values.get(key, ""))

    def setString(self, key, value):  # noqa: N802
        if not isinstance(value, str):
            raise TypeError(f"ConfigService.setString: value must be a str, got {type(value).__name__}")
        self._values[key] = value

    def hasProperty(self, key):  # noqa: N802
        return key in self._values

    def getDataSearchDirs(self):  # noqa: N802
        return [d for d in self.getString("datasearch.directories").split(";") if d.strip()]

    def __getitem__(self, key):
        return self.getString(key)

    def __setitem__(self, key, value):
        self.setString(key, value)

    def __contains__(self, key):
        return self.hasProperty(key)


ConfigService = _ConfigService()
config = ConfigService
