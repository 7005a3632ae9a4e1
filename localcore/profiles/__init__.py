"""Nucleus profiles: which Greengrass nucleus a local core behaves as (``--nucleus classic|lite``).

A :class:`NucleusProfile` is the one place where the two runtimes differ for localcore. The IPC
server, the recipe loader and the runner each ask it one question (which operations are served,
how an error is written, how a recipe is read, ...) instead of testing the runtime's name.

- :data:`CLASSIC` (the default): the Java nucleus, as the rest of localcore documents it.
- :data:`LITE`: Greengrass nucleus lite (``aws-greengrass/aws-greengrass-lite``), held to the
  facts of ``/work/shared/reference/nucleus-lite.md`` (see :mod:`localcore.profiles.lite`).

Example::

    profile = profile_named("lite")
    LocalCore(root=..., recipes=..., thing_name="dev-1", nucleus=profile)
"""

from __future__ import annotations

from localcore.profiles.base import NucleusProfile
from localcore.profiles.lite import LITE

CLASSIC = NucleusProfile()

PROFILES: dict[str, NucleusProfile] = {CLASSIC.name: CLASSIC, LITE.name: LITE}

__all__ = ["CLASSIC", "LITE", "PROFILES", "NucleusProfile", "profile_named"]


def profile_named(name: str | NucleusProfile | None) -> NucleusProfile:
    """The profile called ``name`` (``classic`` for ``None``); a profile is returned as it is.

    Raises:
        ValueError: an unknown name; the message lists the known ones.
    """
    if name is None:
        return CLASSIC
    if isinstance(name, NucleusProfile):
        return name
    found = PROFILES.get(name)
    if found is None:
        raise ValueError(f"unknown nucleus {name!r}; expected one of {', '.join(PROFILES)}")
    return found
