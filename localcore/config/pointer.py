"""JSON pointers (RFC 6901) as a deployment's ``configurationUpdate.reset`` uses them."""

from __future__ import annotations

from typing import Any

from localcore.config.errors import ConfigInvalidUpdateError


def parse_pointer(pointer: Any) -> list[str]:
    """The keys a pointer names: ``""`` -> ``[]`` (everything), ``"/a/b~1c"`` -> ``["a", "b/c"]``."""
    if not isinstance(pointer, str):
        raise ConfigInvalidUpdateError(f"reset entries must be JSON pointer strings, got {pointer!r:.80}")
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise ConfigInvalidUpdateError(
            f"reset pointer {pointer!r} must be \"\" or start with '/' (a JSON pointer such as /network/port)"
        )
    keys = []
    for token in pointer[1:].split("/"):
        if "~" in token.replace("~0", "").replace("~1", ""):
            raise ConfigInvalidUpdateError(f"reset pointer {pointer!r} has a '~' not followed by 0 or 1")
        keys.append(token.replace("~1", "/").replace("~0", "~"))
    return keys
