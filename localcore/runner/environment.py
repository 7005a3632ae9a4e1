"""The environment a component's steps run with (reference section 2.4, NUC ``ShellRunner``).

Layered, later wins: the core's own environment (with the core interpreter's folder first on
PATH, as the nucleus passes its PATH), the nucleus variables (SVCUID, socket path, thing name,
region...), the extra-environment hook (the embedded cloud: credentials endpoint,
AWS_ENDPOINT_URL), the lifecycle-level ``Setenv``, then the step's own ``Setenv``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from localcore.runner.dependencies import NUCLEUS_VERSION

MAX_SOCKET_PATH = 108

ExtraEnvironment = Callable[[str, str, list[str]], Mapping[str, str]]
"""``extra_environment(component_name, token, hard_and_soft_dependencies) -> {VAR: value}``."""


def socket_path_for_component(socket_path: Path, cwd: Path) -> str:
    """The absolute socket path, or the nucleus' relative ``../../ipc.socket`` form when it is too long.

    The relative form works because a component's working directory is ``<root>/work/<name>``
    and the socket is ``<root>/ipc.socket`` (``UnixPlatform.prepareIpcFilepathForComponent``).
    """
    absolute = str(socket_path.resolve())
    if len(os.fsencode(absolute)) < MAX_SOCKET_PATH:
        return absolute
    return os.path.relpath(socket_path.resolve(), cwd.resolve())


def nucleus_variables(
    *, socket_path: Path, cwd: Path, token: str, thing_name: str, region: str
) -> dict[str, str]:
    """The variables the nucleus sets for every component."""
    return {
        "SVCUID": token,
        "AWS_CONTAINER_AUTHORIZATION_TOKEN": token,
        "AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT": socket_path_for_component(socket_path, cwd),
        "AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH": str(socket_path.resolve()),
        "AWS_IOT_THING_NAME": thing_name,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "GGC_VERSION": NUCLEUS_VERSION,
        "GG_ROOT_CA_PATH": "",
    }


def build_environment(
    *,
    base: Mapping[str, str],
    nucleus: Mapping[str, str],
    extra: Mapping[str, str],
    lifecycle_setenv: Mapping[str, str],
    step_setenv: Mapping[str, str],
    interpolate: Callable[[str], str],
) -> dict[str, str]:
    """Merge the layers (later wins); Setenv values have recipe variables replaced."""
    env = dict(base)
    interpreter_dir = os.path.dirname(sys.executable)
    parts = [p for p in env.get("PATH", os.defpath).split(os.pathsep) if p and p != interpreter_dir]
    env["PATH"] = os.pathsep.join([interpreter_dir, *parts])
    env.update(nucleus)
    env.update(extra)
    env.update({key: interpolate(value) for key, value in lifecycle_setenv.items()})
    env.update({key: interpolate(value) for key, value in step_setenv.items()})
    return env
