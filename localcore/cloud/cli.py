"""``python -m localcore cloud ...``: talk to the embedded cloud of a running core.

    cloud publish TOPIC PAYLOAD [--qos 1]     send a message as the cloud would (a command)
    cloud watch [TOPIC]                       print cloud-side messages (default '#')
    cloud offline | online | flaky [--drop F] change the device's connectivity
    cloud status                              connectivity, spool, rule counters, endpoints
    cloud shadow get THING [--name N]
    cloud shadow update THING [--name N] JSON

The main CLI adds these with :func:`add_cloud_parser`; ``python -m localcore.cloud.cli`` works too.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

DEFAULT_ROOT = ".localcore"


def add_cloud_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``cloud`` command (with its subcommands) to an argparse subparsers object."""
    cloud = subparsers.add_parser("cloud", help="talk to the embedded cloud of a running core")
    _fill(cloud)
    return cloud


def register_cloud_commands(subparsers: Any) -> None:
    """Add ``cloud ...`` and give ``run`` its ``--cloud``, ``--cloud-description`` and ``--connectivity``."""
    add_cloud_parser(subparsers)
    run = getattr(subparsers, "choices", {}).get("run")
    if run is not None:
        run.add_argument(
            "--connectivity",
            metavar="SCHEDULE",
            type=_schedule_argument,
            help="repeating connectivity, e.g. online:60,offline:30,flaky:60:0.2",
        )
        run.add_argument(
            "--cloud",
            choices=("embedded", "recording"),
            default="embedded",
            help="embedded: moto-backed cloud (default); recording: in-memory, nothing leaves the core",
        )
        run.add_argument(
            "--cloud-description",
            metavar="FILE",
            type=_description_argument,
            help="the embedded cloud's resources (YAML/JSON: buckets, tables, things, policy, rules, "
            "shadowSync); default: a plugin's, else only the core's thing",
        )
        run.add_argument(
            "--fresh-cloud",
            action="store_true",
            help="start the embedded cloud empty instead of with the S3 objects, DynamoDB items and "
            "cloud shadows the previous run kept under <root>/cloud/state/",
        )
        run.set_defaults(make_cloud=cloud_for_run)


def _schedule_argument(text: str) -> str:
    from localcore.cloud.connectivity import parse_schedule
    from localcore.cloud.exceptions import ScheduleError

    try:
        parse_schedule(text)
    except ScheduleError as err:
        raise argparse.ArgumentTypeError(str(err)) from err
    return text


def _description_argument(text: str) -> Any:
    from localcore.cloud.description import CloudDescriptionError, load_cloud_description

    try:
        return load_cloud_description(Path(text))
    except CloudDescriptionError as err:
        raise argparse.ArgumentTypeError(str(err)) from err


def cloud_for_run(args: argparse.Namespace) -> Any:
    """The ``cloud`` factory ``localcore run`` gives ``LocalCore`` (``None``: the core's default).

    The description is ``--cloud-description``'s, else the first a plugin offers for the project.
    """
    if args.cloud != "embedded":
        return None
    from localcore.plugins import cloud_description
    from localcore.runner.errors import RunnerError

    try:
        from localcore.cloud.service import embedded_cloud_factory
    except ImportError as err:
        raise RunnerError(
            f"the embedded cloud needs {err.name}, which is not installed: install localcore[cloud], "
            "or run with --cloud recording"
        ) from err

    description = args.cloud_description
    if description is None:
        project_root = (args.project_root or Path.cwd()).resolve()
        description = cloud_description(args.plugins, project_root, args.thing_name)
    return embedded_cloud_factory(
        args.connectivity, description=description, fresh=bool(getattr(args, "fresh_cloud", False))
    )


def _leaf(commands: Any, name: str, text: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = commands.add_parser(name, help=text)
    parser.add_argument("--root", type=Path, default=Path(DEFAULT_ROOT), help="the running core's root")
    return parser


def _fill(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(dest="cloud_command", required=True, metavar="COMMAND")
    publish = _leaf(commands, "publish", "publish a message from the cloud side")
    publish.add_argument("topic")
    publish.add_argument("payload")
    publish.add_argument("--qos", type=int, choices=(0, 1), default=0)
    watch = _leaf(commands, "watch", "print cloud-side messages matching a topic filter")
    watch.add_argument("topic", nargs="?", default="#")
    watch.add_argument("--count", type=int, default=None, help="stop after this many messages")
    _leaf(commands, "offline", "take the device offline")
    _leaf(commands, "online", "bring the device back online")
    flaky = _leaf(commands, "flaky", "drop a fraction of calls")
    flaky.add_argument("--drop", type=float, default=0.2)
    _leaf(commands, "status", "connectivity, spool, rules and endpoints")
    shadow = commands.add_parser("shadow", help="the cloud side of a shadow")
    shadow_commands = shadow.add_subparsers(dest="shadow_command", required=True, metavar="get|update")
    get = _leaf(shadow_commands, "get", "print the cloud's shadow document")
    get.add_argument("thing")
    get.add_argument("--name", default="", help="named shadow (classic if omitted)")
    update = _leaf(shadow_commands, "update", "update the cloud's shadow, as in the IoT console")
    update.add_argument("thing")
    update.add_argument("--name", default="", help="named shadow (classic if omitted)")
    update.add_argument("document", help='e.g. \'{"state": {"desired": {"rate": 5}}}\'')
    parser.set_defaults(func=run_cloud_command)


def run_cloud_command(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Carry out a parsed ``cloud`` command against the core at ``args.root``; return the exit code."""
    from localcore.control import ControlError, control_request, control_stream

    out = out or sys.stdout
    root = Path(args.root)
    try:
        command = args.cloud_command
        if command == "publish":
            result = control_request(
                root, "cloud.publish", {"topic": args.topic, "payload": args.payload, "qos": args.qos}
            )
            _print(out, result)
        elif command == "watch":
            seen = 0
            for item in control_stream(root, "cloud.watch", {"topic": args.topic}):
                if "watching" in item:
                    print(f"watching {item['watching']}", file=sys.stderr, flush=True)
                    continue
                out.write(json.dumps(item) + "\n")
                out.flush()
                seen += 1
                if args.count is not None and seen >= args.count:
                    break
        elif command in ("offline", "online", "flaky"):
            request: dict[str, Any] = {"state": command}
            if command == "flaky":
                request["drop"] = args.drop
            _print(out, control_request(root, "cloud.connectivity", request))
        elif command == "status":
            _print(out, control_request(root, "cloud.status"))
        elif command == "shadow" and args.shadow_command == "get":
            _print(out, control_request(root, "cloud.shadow.get", {"thing": args.thing, "name": args.name}))
        elif command == "shadow":
            request = {"thing": args.thing, "name": args.name, "document": args.document}
            _print(out, control_request(root, "cloud.shadow.update", request))
    except ControlError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


def _print(out: TextIO, value: Any) -> None:
    out.write(json.dumps(value, indent=2, sort_keys=True) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Stand-alone entry: ``python -m localcore.cloud.cli [--root R] COMMAND ...``."""
    parser = argparse.ArgumentParser(
        prog="localcore cloud", description=__doc__.splitlines()[0] if __doc__ else None
    )
    _fill(parser)
    args = parser.parse_args(argv)
    return run_cloud_command(args)


if __name__ == "__main__":
    raise SystemExit(main())
