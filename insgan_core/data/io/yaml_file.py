"""Reading small YAML files (model and config files) safely: size, nesting and alias expansion bounded.

``yaml.safe_load`` already refuses Python tags (``!!python/object``...), but a 1 kB file of nested aliases
("billion laughs") expands to 10^9 elements for any code that walks it, a deeply nested file overflows
the parser's recursion, and a huge file takes minutes to parse in pure Python. :func:`load_yaml` refuses
all three before building any Python object.
"""

from __future__ import annotations

import os
from pathlib import Path

from ...errors import InsganFileError

__all__ = ["load_yaml", "MAX_YAML_BYTES", "MAX_YAML_NODES", "MAX_YAML_DEPTH"]

#: largest YAML file read, bytes (model and config files are a few kB)
MAX_YAML_BYTES = 1_000_000
#: most nodes after alias expansion
MAX_YAML_NODES = 200_000
#: deepest nesting of lists/mappings
MAX_YAML_DEPTH = 64


def _expanded_size(node, memo: dict, depth: int, *, path, what) -> int:
    key = id(node)
    if key in memo:
        return memo[key]
    if depth > MAX_YAML_DEPTH:
        raise InsganFileError(f"{what} {path}: nested more than {MAX_YAML_DEPTH} levels deep; not a plausible {what}")
    import yaml

    total = 1
    if isinstance(node, yaml.SequenceNode):
        for child in node.value:
            total += _expanded_size(child, memo, depth + 1, path=path, what=what)
    elif isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            total += _expanded_size(k, memo, depth + 1, path=path, what=what)
            total += _expanded_size(v, memo, depth + 1, path=path, what=what)
    if total > MAX_YAML_NODES:
        raise InsganFileError(
            f"{what} {path}: expands to more than {MAX_YAML_NODES:,} elements (nested aliases, '*name', repeated "
            "many times?); refusing it"
        )
    memo[key] = total
    return total


def load_yaml(path: str | os.PathLike, *, what: str = "YAML file"):
    """Parse a YAML file with ``yaml.SafeLoader`` after checking its size, nesting depth and alias
    expansion; returns the Python object (None for an empty file).

    Raises
    ------
    InsganFileError
        ``"<what> PATH: ..."``: missing or unreadable, larger than :data:`MAX_YAML_BYTES`, not UTF-8 text,
        not valid YAML (including Python tags such as ``!!python/object``, which are never executed),
        nested deeper than :data:`MAX_YAML_DEPTH` or expanding to more than :data:`MAX_YAML_NODES` nodes.
    """
    import yaml

    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_YAML_BYTES:
            raise InsganFileError(
                f"{what} {path}: {size:,} bytes, more than the {MAX_YAML_BYTES:,} bytes accepted; not a plausible {what}"
            )
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise InsganFileError(f"{what} {path}: not UTF-8 text (a binary file?)") from None
    except OSError as exc:
        raise InsganFileError(f"{what} {path}: cannot read it ({exc.strerror or exc})") from None
    if "\x00" in text:
        raise InsganFileError(f"{what} {path}: holds NUL bytes (a binary file?)")
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _expanded_size(node, {}, 0, path=path, what=what)
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        first = " ".join(str(exc).split())[:300]
        raise InsganFileError(f"{what} {path}: not valid YAML or uses a tag that is not allowed ({first})") from None
    except RecursionError:
        raise InsganFileError(f"{what} {path}: nested too deeply to be a plausible {what}") from None
    finally:
        loader.dispose()
