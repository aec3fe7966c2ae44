"""A JSON object from a file a user named (``--config``, ``--scenario``): one reader, so that every verb says the
same one line for a missing file, a file that is not JSON (with where) and JSON that is not an object."""

import json
from pathlib import Path

from .errors import ConfigError


def read_object(path, what: str = "a JSON object", example: str = "") -> dict:
    """The JSON object in ``path``; ConfigError naming the file, what is wrong and what ``what`` should be."""
    try:
        text = Path(path).read_text()
    except OSError as e:
        raise ConfigError(f"cannot read {path}: {e.strerror}", "give an existing JSON file") from None
    try:
        d = json.loads(text)
    except ValueError as e:
        raise ConfigError(f"{path} is not valid JSON: {e}", f"fix the file ({what})") from None
    if not isinstance(d, dict):
        raise ConfigError(f"{path} must hold {what}", f"e.g. {example}" if example else "")
    return d
