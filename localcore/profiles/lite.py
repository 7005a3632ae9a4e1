"""Greengrass nucleus lite's answers, each from ``/work/shared/reference/nucleus-lite.md``.

Sources are written as that file writes them, ``LITE:path`` for ``aws-greengrass/aws-greengrass-lite``
at commit ``326e992`` (v2.6.0). What lite does differently from the classic nucleus:

- **IPC operations** ("IPC operations"; ``LITE:modules/ggipcd/src/ipc_dispatch.c``): only
  :data:`LITE_OPERATIONS` are served. Any other answers ``ServiceError`` with an empty message and
  the connection stays usable; shadows included (no ShadowManager).
- **Errors** ("Errors and handshake"; ``LITE:modules/ggipcd/src/ipc_server.c``): the payload is
  ``{"_message", "_errorCode"}``, no ``message`` key.
- **Connect** (``LITE:modules/ggipc-auth/src/auth.c``): a refused CONNECT gets no reply, the socket
  is closed.
- **IPC buffer** ("Size limits"; ``LITE:modules/ggipcd/src/ipc_server.h``): ``GGL_IPC_MAX_MSG_LEN``
  10,000 bytes; a larger packet closes the client's connection, no error frame.
- **Subscription nodes** (``LITE:modules/core-bus/src/client_subscribe.c``, ``PAYLOAD_MAX_SUBOBJECTS``
  50): a JSON message of more nodes is dropped for the subscriber and the subscription goes quiet.
- **Recipes** ("Recipes"; ``LITE:docs/RECIPE_SUPPORT_CHANGES.md``): see :mod:`localcore.profiles.lite_recipes`.
- **Configuration** ("Configuration"): recipe YAML numbers and booleans come back as strings.
- **Process environment** ("Process environment"; ``LITE:modules/recipe-runner/src/runner.c``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from localcore.ipc.errors import OperationError
from localcore.profiles.base import NucleusProfile
from localcore.profiles.lite_recipes import (
    LITE_STAND_INS,
    lite_deployment_failure,
    load_lite_recipe,
)
from localcore.runner.errors import RunnerError
from localcore.runner.model import Recipe

#: What lite's ggipcd dispatches (nucleus-lite.md "IPC operations").
LITE_OPERATIONS = frozenset(
    {
        "PublishToTopic",
        "SubscribeToTopic",
        "PublishToIoTCore",
        "SubscribeToIoTCore",
        "GetConfiguration",
        "UpdateConfiguration",
        "SubscribeToConfigurationUpdate",
        "CreateLocalDeployment",
        "ValidateAuthorizationToken",
        "RestartComponent",
        "UpdateState",
    }
)
#: ``GGL_IPC_MAX_MSG_LEN`` (``LITE:modules/ggipcd/src/ipc_server.h``).
LITE_IPC_MAX_MSG_LEN = 10_000
#: ``PAYLOAD_MAX_SUBOBJECTS`` (``LITE:modules/core-bus/src/client_subscribe.c``, line 36).
LITE_PAYLOAD_MAX_SUBOBJECTS = 50
#: The version localcore's lite profile follows (the reference's build, v2.6.0).
LITE_VERSION = "2.6.0"
#: Classic-only variables lite's recipe runner does not set (nucleus-lite.md "Process environment").
_CLASSIC_ONLY_VARIABLES = ("AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH",)


class LiteProfile(NucleusProfile):
    """nucleus lite (``--nucleus lite``)."""

    name = "lite"
    max_message_size = LITE_IPC_MAX_MSG_LEN
    subscription_max_nodes = LITE_PAYLOAD_MAX_SUBOBJECTS
    serves_shadows = False

    def serves(self, operation: str) -> bool:
        return operation in LITE_OPERATIONS

    def unserved_error(self, full_name: str) -> OperationError:
        # ggipcd logs "Unhandled operation requested" and answers ServiceError with no text.
        return OperationError("ServiceError", "")

    def malformed_request_error(self, message: str) -> OperationError:
        # nucleus-lite.md "Errors and handshake": malformed JSON is ServiceError, connection kept.
        return OperationError("ServiceError", message)

    def error_payload(self, error: OperationError) -> dict[str, Any]:
        return {"_message": error.message, "_errorCode": error.name}

    @property
    def acks_refused_connect(self) -> bool:
        return False

    @property
    def sends_protocol_errors(self) -> bool:
        return False

    def load_recipe(self, path: Path) -> Recipe:
        return load_lite_recipe(path)

    @property
    def stand_ins(self) -> Mapping[str, str]:
        return LITE_STAND_INS

    def deployment_failure(
        self, recipes: Mapping[str, Recipe], deployment_names: set[str]
    ) -> RunnerError | None:
        return lite_deployment_failure(recipes, deployment_names)

    def environment(self, nucleus: dict[str, str]) -> dict[str, str]:
        env = {k: v for k, v in nucleus.items() if k not in _CLASSIC_ONLY_VARIABLES}
        env["GGC_VERSION"] = LITE_VERSION
        return env


LITE = LiteProfile()
