"""The firmware's codec, imported by CPython: the collector decodes with the very code that encoded."""

from .. import fwbridge

auth, codec, commands, fetch, schema = (fwbridge.load(f"proto.{m}") for m in ("auth", "codec", "commands", "fetch",
                                                                               "schema"))

__all__ = ["auth", "codec", "commands", "fetch", "schema"]
