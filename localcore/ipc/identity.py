"""Component identities: the SVCUID auth tokens the core hands out and what they map to."""

from __future__ import annotations

import secrets
import threading

# NUC util/Utils.generateRandomString + AuthenticationHandler: 16 chars of this alphabet, upper-cased.
_TOKEN_ALPHABET = "abcdefghjklmnpqrstuvwxyz0123456789"
TOKEN_LENGTH = 16


def new_token() -> str:
    """A fresh token in the nucleus' format (16 upper-case letters and digits)."""
    return "".join(secrets.choice(_TOKEN_ALPHABET) for _ in range(TOKEN_LENGTH)).upper()


class IdentityRegistry:
    """token -> component name, thread-safe. A component has one live token at a time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_token: dict[str, str] = {}
        self._by_component: dict[str, str] = {}

    def register(self, component: str) -> str:
        """Issue a new token for ``component``, revoking its previous one."""
        with self._lock:
            old = self._by_component.pop(component, None)
            if old is not None:
                self._by_token.pop(old, None)
            token = new_token()
            while token in self._by_token:
                token = new_token()
            self._by_token[token] = component
            self._by_component[component] = token
            return token

    def unregister(self, component: str) -> None:
        """Revoke ``component``'s token (live connections stay until they close)."""
        with self._lock:
            token = self._by_component.pop(component, None)
            if token is not None:
                self._by_token.pop(token, None)

    def component_for(self, token: str) -> str | None:
        """The component ``token`` belongs to, or ``None``."""
        with self._lock:
            return self._by_token.get(token)

    def token_for(self, component: str) -> str | None:
        """``component``'s current token, or ``None``."""
        with self._lock:
            return self._by_component.get(component)
