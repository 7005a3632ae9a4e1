"""How many IPC connections the core accepts: in total, per component, and not yet authenticated.

Every connection holds a file descriptor. Without a bound, one misbehaving client that opens
connections and keeps them (20,000 of them in a measured case) exhausts the process's
``RLIMIT_NOFILE``: no other component can connect, and the core cannot even open the files it
persists shadows and configuration to (``Too many open files``). So the core keeps connections
below its descriptor limit, with room left for its own files, and refuses the excess:

* **not yet authenticated** (no CONNECT with a valid SVCUID token yet): at most
  ``unauthenticated`` at a time (beyond, the oldest of them is closed for the new one), each
  given ``handshake_timeout_s`` to send its CONNECT;
* **per component**: at most ``per_component`` (one client normally uses one connection);
* **in total**: at most ``total``.

A refused connection is closed at once (its descriptor freed) with a log line naming the
component, or ``unauthenticated`` before the CONNECT: one line for the first refusal of a kind and
then one per power of ten, so a flood cannot fill the disk with log lines.
"""

from __future__ import annotations

import logging
import math
import resource
import threading
from collections import Counter, OrderedDict
from dataclasses import dataclass

from localcore.logfmt import kv

log = logging.getLogger(__name__)

#: Descriptors kept free for the core's own files (logs, shadows, configuration, pipes of the
#: component processes, the embedded cloud's sockets).
RESERVED_DESCRIPTORS = 256
UNAUTHENTICATED = "unauthenticated"


@dataclass(frozen=True)
class ConnectionLimits:
    """The bounds; :meth:`from_rlimit` derives them from the process's descriptor limit."""

    total: int = 512
    per_component: int = 64
    unauthenticated: int = 64
    handshake_timeout_s: float = 10.0

    def __post_init__(self) -> None:
        for name in ("total", "per_component", "unauthenticated"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"ConnectionLimits.{name}: {value!r}; expected an integer >= 1")

    @classmethod
    def from_rlimit(cls, soft_limit: int | None = None) -> ConnectionLimits:
        """Limits below ``RLIMIT_NOFILE`` (its soft value, or ``soft_limit``), leaving
        :data:`RESERVED_DESCRIPTORS` for the core's own files."""
        if soft_limit is None:
            soft_limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        if soft_limit == resource.RLIM_INFINITY or soft_limit <= 0:
            soft_limit = 65536
        total = max(16, min(4096, soft_limit - RESERVED_DESCRIPTORS))
        if total + RESERVED_DESCRIPTORS > soft_limit:  # a tiny limit: use half of it
            total = max(4, soft_limit // 2)
        return cls(
            total=total,
            per_component=max(2, min(64, total // 4)),
            unauthenticated=max(2, min(64, total // 4)),
        )


class ConnectionBook:
    """Which connections are open, by component (or still unauthenticated), and who is admitted.

    Thread-safe; the server calls it from its event loop. Connections are any hashable objects.
    At the unauthenticated limit the *oldest* connection still waiting for its CONNECT gives way
    to the new one: a flood of silent connections then only churns among themselves, while a
    real client, which sends its CONNECT right after connecting, gets through.
    """

    def __init__(self, limits: ConnectionLimits) -> None:
        self.limits = limits
        self._lock = threading.Lock()
        self._awaiting: OrderedDict[object, None] = OrderedDict()
        self._authenticated: dict[object, str] = {}
        self._by_component: Counter[str] = Counter()
        self.refused: Counter[str] = Counter()

    def admit_new(self, connection: object) -> tuple[bool, object | None]:
        """A client connected. Returns ``(admitted, evicted)``: ``evicted`` is the oldest
        unauthenticated connection it replaces, for the caller to close (or None)."""
        evicted: object | None = None
        with self._lock:
            total = len(self._awaiting) + len(self._authenticated)
            if total >= self.limits.total:
                reason = f"{total} connections open, the limit is {self.limits.total}"
            else:
                if len(self._awaiting) >= self.limits.unauthenticated:
                    evicted, _ = self._awaiting.popitem(last=False)
                self._awaiting[connection] = None
                reason = ""
        if reason:
            self._refuse(UNAUTHENTICATED, reason)
            return False, None
        if evicted is not None:
            self._refuse(
                UNAUTHENTICATED,
                f"{self.limits.unauthenticated} connections await CONNECT: the oldest is closed for a new one",
            )
        return True, evicted

    def authenticate(self, connection: object, component: str) -> bool:
        """``connection`` proved to be ``component``: admitted, or refused (logged; the caller
        closes it)."""
        with self._lock:
            if connection not in self._awaiting:
                return False  # evicted meanwhile
            count = self._by_component[component]
            if count < self.limits.per_component:
                del self._awaiting[connection]
                self._authenticated[connection] = component
                self._by_component[component] += 1
                return True
        self._refuse(
            component, f"{count} connections open, the limit per component is {self.limits.per_component}"
        )
        return False

    def closed(self, connection: object) -> None:
        """``connection`` closed (whatever it was)."""
        with self._lock:
            self._awaiting.pop(connection, None)
            component = self._authenticated.pop(connection, None)
            if component is not None:
                self._by_component[component] -= 1
                if not self._by_component[component]:
                    del self._by_component[component]

    def open_counts(self) -> dict[str, int]:
        """Open connections by component (and :data:`UNAUTHENTICATED`)."""
        with self._lock:
            counts = dict(self._by_component)
            if self._awaiting:
                counts[UNAUTHENTICATED] = len(self._awaiting)
            return counts

    def _refuse(self, component: str, reason: str) -> None:
        with self._lock:
            self.refused[component] += 1
            count = self.refused[component]
        if count == 1 or _is_power_of_ten(count):
            log.warning(kv(event="ipc_connection_refused", component=component, reason=reason, refused=count))


def _is_power_of_ten(n: int) -> bool:
    return n > 0 and 10 ** round(math.log10(n)) == n
