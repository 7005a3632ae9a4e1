"""A test component that writes down every message the bundle publishes on the topics it is given.

    python tests/system/witness.py OUT_FILE TOPIC [TOPIC ...]

Run by the core from a recipe (``system_rig.witness_recipe``), so it gets the same local pub/sub as
the sync component: a message this witness received was published (delivered by the core's router
to every subscriber). Each message is one line ``{"topic", "received", "message"}``, written and
flushed at once, so a ``kill -9`` (of it or of the core) keeps every line written before it. A
reading batch (``edgebundle.reading-batch.v1``) is written as one line per reading it carries, so
the lines are the readings whether they came one by one or coalesced.
"""

from __future__ import annotations

import contextlib
import json
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from awsiot.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2
from awsiot.greengrasscoreipc.model import SubscriptionResponseMessage

from components.common.exceptions import MessageError
from components.common.ipc import decode_subscription_message
from components.common.messages import READING_BATCH_V1, reading_items


def main(argv: list[str]) -> int:
    """Subscribe to every topic in ``argv[1:]`` and append what arrives to ``argv[0]``."""
    out_path, topic_names = Path(argv[0]), argv[1:]
    lock = threading.Lock()
    out = out_path.open("a", encoding="utf-8")
    client = GreengrassCoreIPCClientV2()

    def handler_for(topic: str) -> Callable[[SubscriptionResponseMessage], None]:
        def on_message(event: SubscriptionResponseMessage) -> None:
            # The bundle publishes binary JSON (components.common.wire_limits); read either form.
            try:
                message = decode_subscription_message(event)
            except ValueError:
                message = None
            received = time.time()
            messages = [message]
            if isinstance(message, dict) and message.get("schema") == READING_BATCH_V1:
                # A malformed batch is written as it came: the test then sees what is wrong with it.
                with contextlib.suppress(MessageError):
                    messages = [raw for _, raw in reading_items(message)]
            lines = "".join(
                json.dumps({"topic": topic, "received": received, "message": m}) + "\n" for m in messages
            )
            with lock:
                out.write(lines)
                out.flush()

        return on_message

    for topic in topic_names:
        client.subscribe_to_topic(topic=topic, on_stream_event=handler_for(topic))
    print("witness: subscribed", " ".join(topic_names), flush=True)
    threading.Event().wait()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
