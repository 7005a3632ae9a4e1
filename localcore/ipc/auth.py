"""IPC authorization from each component's ``accessControl``, decided as the nucleus does.

Nucleus sources: ``authorization/AuthorizationHandler.java`` (lookup order),
``AuthorizationPolicyParser.java`` (policy shape) and ``WildcardTrie.java`` (matching).

- A policy grants its declaring component (the principal) ``operations`` on ``resources`` of one
  destination (``aws.greengrass.ipc.pubsub`` ...). A policy with no operations is skipped.
- Lookup order: ``(principal, op)``, ``(principal, *)``, ``(*, op)``, ``(*, *)``; the first resource
  match allows.
- STANDARD matching: ``*`` is any run of characters (``/`` included); ``+`` and ``#`` are literal.
- MQTT_STYLE (IoT Core topics only): additionally ``+`` fills one whole level and a trailing ``/#``
  (or a lone ``#``) matches the rest, including the parent level itself.
- ``${*}``, ``${$}``, ``${?}`` are the literal characters; an unescaped ``?`` or any other ``${x}``
  makes that one resource invalid: it is dropped with an error log.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from localcore.ipc.errors import IpcServerError
from localcore.logfmt import kv

log = logging.getLogger(__name__)

ANY = "*"
_CACHE_LIMIT = 10_000  # distinct (who, what, resource) decisions kept; topics can be unbounded

# NUC AuthorizationHandler constructor: the operations registered per destination.
REGISTERED_OPERATIONS: dict[str, frozenset[str]] = {
    "aws.greengrass.ipc.pubsub": frozenset(
        {"aws.greengrass#PublishToTopic", "aws.greengrass#SubscribeToTopic"}
    ),
    "aws.greengrass.ipc.mqttproxy": frozenset(
        {"aws.greengrass#PublishToIoTCore", "aws.greengrass#SubscribeToIoTCore"}
    ),
    "aws.greengrass.ShadowManager": frozenset(
        {
            "aws.greengrass#GetThingShadow",
            "aws.greengrass#UpdateThingShadow",
            "aws.greengrass#DeleteThingShadow",
            "aws.greengrass#ListNamedShadowsForThing",
        }
    ),
    "aws.greengrass.SecretManager": frozenset({"aws.greengrass#GetSecretValue"}),
    "aws.greengrass.ipc.lifecycle": frozenset(
        {"aws.greengrass#PauseComponent", "aws.greengrass#ResumeComponent"}
    ),
    "aws.greengrass.clientdevices.Auth": frozenset(
        {
            "aws.greengrass#SubscribeToCertificateUpdates",
            "aws.greengrass#VerifyClientDeviceIdentity",
            "aws.greengrass#GetClientDeviceAuthToken",
            "aws.greengrass#AuthorizeClientDeviceAction",
        }
    ),
    "aws.greengrass.Cli": frozenset(
        {
            "aws.greengrass#GetComponentDetails",
            "aws.greengrass#ListComponents",
            "aws.greengrass#RestartComponent",
            "aws.greengrass#StopComponent",
            "aws.greengrass#CreateLocalDeployment",
            "aws.greengrass#GetLocalDeploymentStatus",
            "aws.greengrass#ListLocalDeployments",
            # Missing from the nucleus' own list (AuthorizationHandler l.130-134), but the CLI
            # component serves it and a policy naming it still loads (reference
            # greengrass-deployments.md section 4.1): at run time it is authorized like the others.
            "aws.greengrass#CancelLocalDeployment",
            "aws.greengrass#CreateDebugPassword",
        }
    ),
    "aws.greengrass.ipc.componentmetric": frozenset({"aws.greengrass#PutComponentMetric"}),
    "aws.greengrass.TokenExchangeService": frozenset({"getCredentials"}),
}
_DESTINATIONS_BY_LOWER = {name.lower(): name for name in REGISTERED_OPERATIONS}


class PolicyError(IpcServerError):
    """An ``accessControl`` value that cannot be read (not a map, or a JSON string that is not one)."""


class AuthorizationDenied(IpcServerError):
    """The request is not allowed; ``str()`` is the nucleus' AuthorizationException text."""


_ESCAPES = {"${*}": "*", "${$}": "$", "${?}": "?"}
_TOKEN = re.compile(r"\$\{[^}]*\}|\*|\?|[^*?$]+|\$")


class InvalidResource(ValueError):
    """A policy resource that the nucleus refuses (unescaped ``?`` or an unknown ``${x}``)."""


def _tokens(resource: str) -> list[tuple[str, str]]:
    """Split a policy resource into ``("lit", text)`` and ``("star", "*")`` tokens."""
    out: list[tuple[str, str]] = []
    for match in _TOKEN.finditer(resource):
        text = match.group(0)
        if text.startswith("${"):
            if text not in _ESCAPES:
                raise InvalidResource(f"unknown escape {text!r} (only ${{*}}, ${{$}} and ${{?}} are allowed)")
            out.append(("lit", _ESCAPES[text]))
        elif text == "*":
            out.append(("star", text))
        elif text == "?":
            raise InvalidResource("an unescaped '?' is not allowed (write ${?} for a literal '?')")
        else:
            out.append(("lit", text))
    return out


def _standard_regex(tokens: list[tuple[str, str]]) -> str:
    return "".join(".*" if kind == "star" else re.escape(text) for kind, text in tokens)


def _mqtt_regex(tokens: list[tuple[str, str]]) -> str:
    """MQTT_STYLE: ``+`` as a whole level and a final ``/#`` or lone ``#`` are wildcards."""
    parts: list[str] = []
    count = len(tokens)
    for index, (kind, text) in enumerate(tokens):
        if kind == "star":
            parts.append(".*")
            continue
        # The literal run may hold + and #; they are wildcards only in whole-level positions.
        prev_end_slash = index == 0 or (tokens[index - 1][0] == "lit" and tokens[index - 1][1].endswith("/"))
        next_start_slash = index == count - 1 or (
            tokens[index + 1][0] == "lit" and tokens[index + 1][1].startswith("/")
        )
        levels = text.split("/")
        rendered: list[str] = []
        for pos, level in enumerate(levels):
            at_start = pos > 0 or prev_end_slash
            at_end = pos < len(levels) - 1 or next_start_slash
            last_overall = index == count - 1 and pos == len(levels) - 1
            if level == "+" and at_start and at_end:
                rendered.append("[^/]*")
            elif level == "#" and at_start and last_overall:
                rendered.append("\0HASH")
            else:
                rendered.append(re.escape(level))
        joined = "/".join(rendered)
        if joined.endswith("/\0HASH"):
            # "a/#" matches "a", "a/" and anything below it.
            joined = joined[: -len("/\0HASH")] + "(?:/.*)?"
        elif joined == "\0HASH":
            joined = ".*"
        parts.append(joined)
    return "".join(parts)


@dataclass(frozen=True)
class _ResourceMatcher:
    standard: re.Pattern[str] | None
    mqtt: re.Pattern[str] | None
    source: str

    def matches(self, resource: str, mqtt_style: bool) -> bool:
        pattern = self.mqtt if mqtt_style else self.standard
        return pattern is not None and pattern.fullmatch(resource) is not None


def _compile_resource(resource: str) -> _ResourceMatcher:
    tokens = _tokens(resource)
    return _ResourceMatcher(
        standard=re.compile(_standard_regex(tokens), re.DOTALL),
        mqtt=re.compile(_mqtt_regex(tokens), re.DOTALL),
        source=resource,
    )


def _ci_get(mapping: Mapping[str, Any], key: str) -> Any:
    """Jackson's ACCEPT_CASE_INSENSITIVE_PROPERTIES: the first key equal ignoring case."""
    for name, value in mapping.items():
        if isinstance(name, str) and name.lower() == key.lower():
            return value
    return None


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, Iterable):
        return [str(item) for item in value if item is not None]
    return [str(value)]


def parse_access_control(
    component: str, access_control: Any
) -> dict[tuple[str, str], list[_ResourceMatcher]]:
    """Turn one component's ``accessControl`` into ``{(destination, operation): [resource matchers]}``.

    ``access_control`` is the map from the recipe, or the same map as a JSON string leaf.

    Raises:
        PolicyError: not a map (or a JSON string of one).
    """
    if access_control is None:
        return {}
    if isinstance(access_control, str):
        try:
            access_control = json.loads(access_control) if access_control.strip() else {}
        except json.JSONDecodeError as err:
            raise PolicyError(f"{component}: accessControl is a string but not JSON: {err}") from err
    if not isinstance(access_control, Mapping):
        raise PolicyError(
            f"{component}: accessControl must be a map of destination -> policyId -> policy, "
            f"got {type(access_control).__name__}"
        )
    grants: dict[tuple[str, str], list[_ResourceMatcher]] = {}
    for destination_key, policies in access_control.items():
        destination = _DESTINATIONS_BY_LOWER.get(str(destination_key).lower(), str(destination_key))
        if not isinstance(policies, Mapping):
            log.error(
                kv(event="policy_ignored", component=component, destination=destination, reason="not a map")
            )
            continue
        for policy_id, policy in policies.items():
            if not isinstance(policy, Mapping):
                log.error(
                    kv(event="policy_ignored", component=component, policy=policy_id, reason="not a map")
                )
                continue
            operations = _as_list(_ci_get(policy, "operations"))
            if not operations:
                # AuthorizationPolicyParser skips a policy with no operations.
                log.warning(
                    kv(event="policy_skipped", component=component, policy=policy_id, reason="no operations")
                )
                continue
            matchers: list[_ResourceMatcher] = []
            for resource in _as_list(_ci_get(policy, "resources")):
                try:
                    matchers.append(_compile_resource(resource))
                except InvalidResource as err:
                    log.error(
                        kv(
                            event="policy_resource_dropped",
                            component=component,
                            policy=policy_id,
                            resource=resource,
                            reason=err,
                        )
                    )
            for operation in operations:
                grants.setdefault((destination, operation), []).extend(matchers)
    return grants


class Authorizer:
    """Every registered component's grants; thread-safe (the runner updates, the server loop reads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # principal -> (destination, operation) -> matchers
        self._grants: dict[str, dict[tuple[str, str], list[_ResourceMatcher]]] = {}
        self._cache: dict[tuple[str, str, str, str, bool], bool] = {}

    def set_policies(self, component: str, access_control: Any) -> None:
        """Replace ``component``'s grants with those of ``access_control``.

        Raises:
            PolicyError: ``access_control`` is not readable; the old grants stay.
        """
        grants = parse_access_control(component, access_control)
        with self._lock:
            self._grants[component] = grants
            self._cache = {}

    def remove(self, component: str) -> None:
        """Forget ``component``'s grants."""
        with self._lock:
            self._grants.pop(component, None)
            self._cache = {}

    def is_allowed(
        self, destination: str, principal: str, operation: str, resource: str, *, mqtt_style: bool = False
    ) -> bool:
        """Whether ``principal`` may do ``operation`` of ``destination`` on ``resource``."""
        key = (destination, principal, operation, resource, mqtt_style)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        with self._lock:
            allowed = self._decide(destination, principal, operation, resource, mqtt_style)
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache = {}
            self._cache[key] = allowed
        return allowed

    def _decide(
        self, destination: str, principal: str, operation: str, resource: str, mqtt_style: bool
    ) -> bool:
        for who, what in ((principal, operation), (principal, ANY), (ANY, operation), (ANY, ANY)):
            for matcher in self._grants.get(who, {}).get((destination, what), ()):
                if matcher.matches(resource, mqtt_style):
                    return True
        return False

    def check(
        self, destination: str, principal: str, operation: str, resource: str, *, mqtt_style: bool = False
    ) -> None:
        """Allow silently, or log who was denied what and raise.

        Raises:
            AuthorizationDenied: with the nucleus' wording.
        """
        registered = REGISTERED_OPERATIONS.get(destination)
        if registered is not None and operation not in registered:
            raise AuthorizationDenied(f"Component {principal} not registered for operation {operation}")
        if self.is_allowed(destination, principal, operation, resource, mqtt_style=mqtt_style):
            return
        log.warning(
            kv(
                event="ipc_unauthorized",
                component=principal,
                destination=destination,
                operation=operation,
                resource=resource,
                hint=f"add {operation} on {resource!r} under accessControl.{destination} in the recipe",
            )
        )
        raise AuthorizationDenied(
            f"Principal {principal} is not authorized to perform {destination}:{operation} on resource {resource}"
        )
