"""The profile interface, with the classic nucleus's answers as defaults.

Each method is one question a part of localcore asks; :class:`localcore.profiles.lite.LiteProfile`
overrides the ones where nucleus lite answers differently.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from localcore.ipc.codec import MAX_MESSAGE_SIZE
from localcore.ipc.errors import OperationError, invalid_arguments, service_error
from localcore.runner.dependencies import STAND_IN_COMPONENTS
from localcore.runner.errors import RunnerError
from localcore.runner.model import Recipe
from localcore.runner.recipe import load_recipe


class NucleusProfile:
    """How a local core behaves: the classic nucleus unless a subclass says otherwise."""

    name = "classic"
    #: The largest incoming IPC frame; a larger one closes the client's connection.
    max_message_size = MAX_MESSAGE_SIZE
    #: JSON messages with more nodes than this are dropped for a subscriber (None: no limit).
    subscription_max_nodes: int | None = None
    #: Whether the core serves shadows (the ShadowManager stand-in, its IPC operations and topics).
    serves_shadows = True

    # --- IPC ----------------------------------------------------------------------------------------
    def serves(self, operation: str) -> bool:
        """Whether ``operation`` (e.g. ``GetThingShadow``) has a handler under this nucleus."""
        return True

    def unserved_error(self, full_name: str) -> OperationError:
        """The answer to an operation the nucleus has no handler for."""
        return service_error(f"Operation {full_name} is not supported by Greengrass")

    def malformed_request_error(self, message: str) -> OperationError:
        """The answer to a request whose payload is not JSON (the connection stays open)."""
        return invalid_arguments(message)

    def error_payload(self, error: OperationError) -> dict[str, Any]:
        """The JSON body of an APPLICATION_ERROR for ``error``."""
        return error.payload()

    @property
    def acks_refused_connect(self) -> bool:
        """Whether a refused CONNECT gets a CONNECT_ACK without the accepted flag before the close."""
        return True

    @property
    def sends_protocol_errors(self) -> bool:
        """Whether a connection closed for a bad or oversized frame gets a PROTOCOL_ERROR first."""
        return True

    # --- recipes and deployments --------------------------------------------------------------------
    def load_recipe(self, path: Path) -> Recipe:
        """Read one recipe file as this nucleus does (manifest selection, keys, defaults).

        Raises:
            RecipeError: the nucleus would refuse the recipe; names the file and the key.
        """
        return load_recipe(path)

    @property
    def stand_ins(self) -> Mapping[str, str]:
        """Components the core itself provides, with the version it claims."""
        return STAND_IN_COMPONENTS

    def deployment_failure(
        self, recipes: Mapping[str, Recipe], deployment_names: set[str]
    ) -> RunnerError | None:
        """A reason the whole deployment fails, or ``None``: the classic nucleus refuses only the
        components whose dependencies are missing (see :mod:`localcore.runner.dependencies`)."""
        return None

    def environment(self, nucleus: dict[str, str]) -> dict[str, str]:
        """The nucleus-set variables of a component's process, from localcore's classic set."""
        return nucleus
