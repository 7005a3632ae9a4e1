"""A test component: real awsiotsdk (and boto3) calls against the core, one behaviour per mode.

    alert KEY        PublishToIoTCore one alert (QoS 1)
    commands         SubscribeToIoTCore commands; answer each on the status topic
    shadow           report every local shadow delta of 'cfg'; report test/shadow/report payloads
    spool            on test/spool/go: three QoS 1 and three QoS 0 publishes, then log done;
                     logs every IoT Core connection status event
    stream N SECONDS publish N QoS 1 messages, one every SECONDS, then log done
    s3 BUCKET        on test/s3/go: boto3 put_object with token-exchange credentials; log the outcome

Each step is logged as ``event=...`` so the test waits on the component's log.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time

from awsiot.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2
from awsiot.greengrasscoreipc.model import QOS

THING = os.environ["AWS_IOT_THING_NAME"]


def log(**fields: object) -> None:
    print(" ".join(f"{k}={v}" for k, v in fields.items()), flush=True)


def main() -> None:
    mode = sys.argv[1]
    client = GreengrassCoreIPCClientV2()

    if mode == "alert":
        payload = json.dumps({"alertKey": sys.argv[2], "value": 42.5, "severity": "critical"}).encode()
        client.publish_to_iot_core(
            topic_name=f"edgebundle/{THING}/alerts", qos=QOS.AT_LEAST_ONCE, payload=payload
        )
        log(event="published")

    elif mode == "commands":

        def on_command(event: object) -> None:
            message = event.message  # type: ignore[attr-defined]
            ack = json.dumps({"ack": json.loads(message.payload)}).encode()
            client.publish_to_iot_core(
                topic_name=f"edgebundle/{THING}/status", qos=QOS.AT_LEAST_ONCE, payload=ack
            )
            log(event="acked")

        client.subscribe_to_iot_core(
            topic_name=f"edgebundle/{THING}/commands", qos=QOS.AT_LEAST_ONCE, on_stream_event=on_command
        )
        log(event="subscribed")

    elif mode == "shadow":

        def report(state: dict[str, object]) -> None:
            payload = json.dumps({"state": {"reported": state}}).encode()
            client.update_thing_shadow(thing_name=THING, shadow_name="cfg", payload=payload)
            log(event="reported", state=json.dumps(state, separators=(",", ":")))

        def on_delta(event: object) -> None:
            report(json.loads(event.binary_message.message)["state"])  # type: ignore[attr-defined]

        def on_report(event: object) -> None:
            report(json.loads(event.binary_message.message))  # type: ignore[attr-defined]

        client.subscribe_to_topic(
            topic=f"$aws/things/{THING}/shadow/name/cfg/update/delta", on_stream_event=on_delta
        )
        client.subscribe_to_topic(topic="test/shadow/report", on_stream_event=on_report)
        log(event="subscribed")

    elif mode == "spool":

        def on_spool_go(_event: object) -> None:
            for index in range(3):
                for qos in (QOS.AT_LEAST_ONCE, QOS.AT_MOST_ONCE):
                    body = f"q{qos}-{index}".encode()
                    client.publish_to_iot_core(topic_name=f"edgebundle/{THING}/status", qos=qos, payload=body)
            log(event="done")

        def on_status(event: object) -> None:
            log(event="connection", status=event.connection_status_event.status)  # type: ignore[attr-defined]

        client.subscribe_to_topic(topic="test/spool/go", on_stream_event=on_spool_go)
        client.subscribe_to_iot_core_connection_status(on_stream_event=on_status)
        log(event="subscribed")

    elif mode == "stream":
        count, interval = int(sys.argv[2]), float(sys.argv[3])
        for index in range(count):
            client.publish_to_iot_core(
                topic_name=f"edgebundle/{THING}/status",
                qos=QOS.AT_LEAST_ONCE,
                payload=f"seq-{index:05d}".encode(),
            )
            time.sleep(interval)  # a steady producer, not synchronisation
        log(event="done", count=count)

    elif mode == "s3":
        import boto3
        from botocore.config import Config

        s3 = boto3.client("s3", config=Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=5))
        bucket = sys.argv[2]

        def on_s3_go(event: object) -> None:
            key = event.binary_message.message.decode()  # type: ignore[attr-defined]
            try:
                s3.put_object(Bucket=bucket, Key=key, Body=b"from a component")
            except Exception as err:  # the test reads which error a real outage gives
                log(event="upload_failed", key=key, error=type(err).__name__)
                return
            log(event="uploaded", key=key)

        client.subscribe_to_topic(topic="test/s3/go", on_stream_event=on_s3_go)
        log(event="subscribed")

    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    client.close()


if __name__ == "__main__":
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    main()
