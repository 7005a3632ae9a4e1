"""``python -m localcore``: run the bundle locally and talk to a running core.

    localcore run --recipes recipes --root .localcore --thing-name dev-1 [--deployment FILE]
                  [--only A,B] [--duration SECONDS] [--json]
    localcore status [--root DIR] [--json]
    localcore logs NAME [-f] [-n LINES]
    localcore config get NAME [KEYPATH] | config set NAME KEYPATH VALUE   (set: a local deployment)
    localcore deploy FILE [--no-wait] | deployments list | deployments status ID | deployments cancel ID
    localcore restart NAME | stop NAME

KEYPATH is slash-separated (``mqtt/port``); VALUE is JSON when it parses as JSON, else a string.

Adding sub-commands (the embedded cloud does, from ``localcore/cloud/cli.py``): a module function
``register_cloud_commands(subparsers)`` adds parsers whose defaults set ``func=handler`` where
``handler(args) -> int`` (the exit code); :func:`add_root_argument` gives them the usual ``--root``.

``run`` reports through a :class:`RunReporter` (terminal lines or JSON lines); a live view
implements the same three methods and is passed to :func:`run_core`.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import IO, Any

from localcore.control import ControlError, CoreNotRunningError, control_request
from localcore.plugins import LoadedPlugin, PluginError, RunReporter, load_plugins
from localcore.plugins import artifact_sources as plugin_artifact_sources
from localcore.plugins import views as plugin_views
from localcore.profiles import CLASSIC, PROFILES
from localcore.reporters import JsonReporter, TerminalReporter, choose_view, format_status_table
from localcore.runner.errors import RunnerError
from localcore.runner.logs import log_path

DEFAULT_ROOT = Path(".localcore")
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def add_root_argument(parser: argparse.ArgumentParser) -> None:
    """``--root DIR`` (default ``.localcore``), the core every command talks to."""
    parser.add_argument(
        "--root", type=Path, default=DEFAULT_ROOT, help="the core's root folder (default: .localcore)"
    )


# --- run ---------------------------------------------------------------------------------------------
# The reporters live in localcore.reporters, their protocol with the plugin seam (plugins add
# views); both are re-exported here, where scripts have imported them from.
__all__ = [
    "JsonReporter",
    "RunReporter",
    "TerminalReporter",
    "build_parser",
    "choose_view",
    "format_status_table",
    "main",
    "run_core",
]


def run_core(
    core: Any, reporter: RunReporter, duration: float | None, stop_event: threading.Event | None = None
) -> int:
    """Start ``core``, report, wait for ``duration`` seconds (or ``stop_event``), stop; the exit code.

    Exit code 1 when a component ended BROKEN or was refused, else 0.
    """
    stop_event = stop_event or threading.Event()
    core.add_state_listener(reporter.state_changed)
    try:
        core.start()
    except (RunnerError, ControlError):
        raise
    except Exception as err:  # e.g. the IPC socket cannot be opened: say so, no traceback
        raise RunnerError(f"the core could not start: {type(err).__name__}: {err}") from err
    try:
        reporter.started(core)
        stop_event.wait(duration)
    finally:
        core.stop()
    exit_code = EXIT_FAILED if core.any_broken() else EXIT_OK
    reporter.finished(core, exit_code)
    return exit_code


def _cmd_run(args: argparse.Namespace) -> int:
    from localcore.core import LocalCore

    plugins: list[LoadedPlugin] = args.plugins
    only = [name.strip() for name in args.only.split(",") if name.strip()] if args.only else None
    try:
        reporter: RunReporter
        if args.json:
            reporter = JsonReporter()
        elif args.view is not None:
            reporter = choose_view(args.view, plugin_views(plugins))
        else:
            reporter = TerminalReporter()
        core = LocalCore(
            root=args.root,
            recipes=args.recipes,
            thing_name=args.thing_name,
            deployment=args.deployment,
            only=only,
            region=args.region,
            project_root=args.project_root,
            # the embedded cloud's options (localcore/cloud/cli.py) set make_cloud; else the default
            cloud=args.make_cloud(args) if args.make_cloud is not None else None,
            artifact_sources=plugin_artifact_sources(plugins),
            nucleus=args.nucleus,
        )
    except (RunnerError, PluginError, ValueError) as err:
        print(f"localcore: {err}", file=sys.stderr)
        return EXIT_USAGE
    stop_event = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop_event.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    return run_core(core, reporter, args.duration, stop_event)


# --- talking to a running core -------------------------------------------------------------------
def _cmd_status(args: argparse.Namespace) -> int:
    status = control_request(args.root, "status")
    if args.json:
        print(json.dumps(status, indent=2))
    else:
        print(f"core {status['root']}  thing {status['thingName']}  up {status['uptimeSeconds']}s")
        print(format_status_table(status["components"]))
    return EXIT_OK


def _key_path(text: str | None) -> list[str]:
    return [part for part in (text or "").strip("/").split("/") if part]


def _cmd_config_get(args: argparse.Namespace) -> int:
    request = {"component": args.name, "keyPath": _key_path(args.key_path)}
    try:
        value = control_request(args.root, "config.get", request)
    except CoreNotRunningError:
        # A stopped core's configuration is still on disk.
        from localcore.config.store import ConfigStore

        try:
            value = ConfigStore(root=args.root).get(args.name, request["keyPath"])
        except KeyError as err:
            raise ControlError(str(err.args[0] if err.args else err)) from err
    print(json.dumps(value, indent=2) if args.json or not isinstance(value, str) else value)
    return EXIT_OK


def _cmd_config_set(args: argparse.Namespace) -> int:
    try:
        value = json.loads(args.value)
    except json.JSONDecodeError:
        value = args.value
    result = control_request(
        args.root, "config.set", {"component": args.name, "keyPath": _key_path(args.key_path), "value": value}
    )
    print(
        f"{result['component']}: {'/'.join(result['keyPath'])} = {json.dumps(result['value'])}"
        f"  (deployment {result['deploymentId']})"
    )
    return EXIT_OK


def _print_deployment(record: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(record, indent=2))
        return
    print(f"{record['deploymentId']}: {record['status']}")
    print(f"Created on: {record.get('createdOn', '')}")
    details = record.get("deploymentStatusDetails") or {}
    if record["status"] == "FAILED" or details.get("detailedDeploymentStatus") not in (None, "SUCCESSFUL"):
        # The Greengrass CLI prints the details only for FAILED (CLI DeploymentCommand.status).
        print(f"Detailed Status: {details.get('detailedDeploymentStatus')}")
        print(f"Deployment Error Stack: {', '.join(details.get('deploymentErrorStack') or [])}")
        print(f"Deployment Error Types: {', '.join(details.get('deploymentErrorTypes') or [])}")
        print(f"Failure Cause: {details.get('deploymentFailureCause')}")


def _cmd_deploy(args: argparse.Namespace) -> int:
    record = control_request(
        args.root,
        "deploy",
        {"file": str(args.file.resolve()), "wait": not args.no_wait, "timeout": args.timeout},
        timeout=args.timeout + 30,
    )
    _print_deployment(record, args.json)
    return EXIT_FAILED if record.get("status") in ("FAILED", "CANCELED") else EXIT_OK


def _cmd_deployments_list(args: argparse.Namespace) -> int:
    records = control_request(args.root, "deployments.list")
    if args.json:
        print(json.dumps(records, indent=2))
        return EXIT_OK
    for record in records:
        details = record.get("deploymentStatusDetails") or {}
        reason = details.get("deploymentFailureCause") or ""
        print(
            f"{record['deploymentId']}  {record['status']:<11}  {record['createdOn']}  "
            f"{record.get('source', '')}  {reason}".rstrip()
        )
    return EXIT_OK


def _cmd_deployments_status(args: argparse.Namespace) -> int:
    _print_deployment(control_request(args.root, "deployments.status", {"deploymentId": args.id}), args.json)
    return EXIT_OK


def _cmd_deployments_cancel(args: argparse.Namespace) -> int:
    print(control_request(args.root, "deployments.cancel", {"deploymentId": args.id})["message"])
    return EXIT_OK


def _lifecycle_command(command: str) -> Callable[[argparse.Namespace], int]:
    def handler(args: argparse.Namespace) -> int:
        result = control_request(args.root, command, {"component": args.name})
        print(json.dumps(result) if args.json else result["message"])
        return EXIT_OK

    return handler


def _cmd_logs(args: argparse.Namespace) -> int:
    path = log_path(args.root, args.name)
    if not path.exists():
        print(f"localcore: no log for {args.name} at {path}", file=sys.stderr)
        return EXIT_FAILED
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    for line in lines[-args.lines :] if args.lines else lines:
        print(line)
    if args.follow:
        follow(path)
    return EXIT_OK


def _replaced(path: Path, handle: IO[str]) -> bool:
    try:
        return path.stat().st_ino != os.fstat(handle.fileno()).st_ino
    except FileNotFoundError:
        return False  # between the rename and the new file


def follow(
    path: Path,
    out: Any = None,
    stop: threading.Event | None = None,
    poll_interval: float = 0.2,
    following: threading.Event | None = None,
) -> None:
    """Print lines appended to ``path`` until ``stop`` is set or Ctrl-C; reopens it after a rotation.

    ``following`` is set once the end of the file is reached (lines written after it are printed).
    """
    out = out or sys.stdout
    stop = stop or threading.Event()
    handle = path.open("r", encoding="utf-8", errors="replace")
    handle.seek(0, 2)
    if following is not None:
        following.set()
    try:
        while not stop.is_set():
            line = handle.readline()
            if line:
                out.write(line)
                out.flush()
                continue
            if _replaced(path, handle):
                # Rotated: the name now points at a new file; read it from its start.
                handle.close()
                handle = path.open("r", encoding="utf-8", errors="replace")
                continue
            stop.wait(poll_interval)  # polling a file: there is no event to wait on
    except KeyboardInterrupt:
        pass
    finally:
        handle.close()


# --- the parser ---------------------------------------------------------------------------------------
def build_parser(plugins: Sequence[LoadedPlugin] = ()) -> argparse.ArgumentParser:
    """The whole command line: localcore's commands, the embedded cloud's, and the plugins'."""
    parser = argparse.ArgumentParser(
        prog="localcore",
        description="A local AWS IoT Greengrass v2 core: runs any component from its recipe, "
        "with the real IPC protocol, and an embedded cloud described by a file.",
    )
    parser.set_defaults(plugins=list(plugins), make_cloud=None)
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = subparsers.add_parser("run", help="run components from their recipes until stopped")
    run.add_argument("--recipes", type=Path, required=True, help="folder of recipes (YAML or JSON)")
    add_root_argument(run)
    run.add_argument("--thing-name", required=True, help="the core device's thing name")
    run.add_argument(
        "--deployment", type=Path, help="deployment file: per-component configurationUpdate, runWith"
    )
    run.add_argument("--only", help="comma-separated components to run (plus their dependencies)")
    run.add_argument("--duration", type=float, help="stop cleanly after this many seconds")
    run.add_argument("--region", default="us-east-1", help="AWS_REGION given to components")
    run.add_argument(
        "--nucleus",
        choices=sorted(PROFILES),
        default=CLASSIC.name,
        help="the nucleus to behave as: classic (default) or lite, which holds components to "
        "nucleus lite's IPC operations, limits and recipe rules (docs/localcore.md)",
    )
    run.add_argument(
        "--project-root",
        type=Path,
        default=None,
        help="where artifact URIs resolve (default: current folder)",
    )
    run.add_argument("--json", action="store_true", help="JSON lines instead of text")
    run.add_argument(
        "--view",
        nargs="?",
        const="",
        default=None,
        metavar="NAME",
        help="a live dashboard instead of lines: 'live' (states, link) or a plugin's view "
        "(default: the one a plugin offers, else 'live')",
    )
    run.set_defaults(func=_cmd_run)

    status = subparsers.add_parser(
        "status", help="components, versions, states and restarts of a running core"
    )
    add_root_argument(status)
    status.add_argument("--json", action="store_true")
    status.set_defaults(func=_cmd_status)

    logs = subparsers.add_parser("logs", help="a component's log (<root>/logs/NAME.log)")
    logs.add_argument("name")
    add_root_argument(logs)
    logs.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    logs.add_argument("-n", "--lines", type=int, default=0, help="only the last N lines")
    logs.set_defaults(func=_cmd_logs)

    config = subparsers.add_parser("config", help="read or change a component's configuration")
    config_commands = config.add_subparsers(dest="config_command", required=True, metavar="get|set")
    get = config_commands.add_parser(
        "get", help="print a configuration value (the whole map without KEYPATH)"
    )
    get.add_argument("name")
    get.add_argument("key_path", nargs="?", default="")
    add_root_argument(get)
    get.add_argument("--json", action="store_true")
    get.set_defaults(func=_cmd_config_get)
    set_ = config_commands.add_parser(
        "set", help="merge one value as a configuration-only deployment: the component may refuse it"
    )
    set_.add_argument("name")
    set_.add_argument("key_path")
    set_.add_argument("value", help="JSON, or a plain string")
    add_root_argument(set_)
    set_.set_defaults(func=_cmd_config_set)

    deploy = subparsers.add_parser(
        "deploy", help="apply a deployment file to a running core (a thing-group rehearsal) and wait"
    )
    deploy.add_argument("file", type=Path, help="deployment file (the deployments/*.yaml format)")
    add_root_argument(deploy)
    deploy.add_argument("--no-wait", action="store_true", help="queue it and print its id")
    deploy.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for the outcome")
    deploy.add_argument("--json", action="store_true")
    deploy.set_defaults(func=_cmd_deploy)
    deployments = subparsers.add_parser("deployments", help="list, inspect or cancel deployments")
    deployment_commands = deployments.add_subparsers(
        dest="deployments_command", required=True, metavar="list|status|cancel"
    )
    listing = deployment_commands.add_parser("list", help="every deployment with its state and reason")
    add_root_argument(listing)
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=_cmd_deployments_list)
    for command, text, func in (
        ("status", "one deployment's state, detailed status and error stack", _cmd_deployments_status),
        ("cancel", "cancel a queued deployment, or one still before its merge", _cmd_deployments_cancel),
    ):
        sub = deployment_commands.add_parser(command, help=text)
        sub.add_argument("id")
        add_root_argument(sub)
        sub.add_argument("--json", action="store_true")
        sub.set_defaults(func=func)

    for command, text in (("restart", "restart a component"), ("stop", "stop a component until restarted")):
        sub = subparsers.add_parser(command, help=text)
        sub.add_argument("name")
        add_root_argument(sub)
        sub.add_argument("--json", action="store_true")
        sub.set_defaults(func=_lifecycle_command(command))

    from localcore.cloud.cli import register_cloud_commands

    register_cloud_commands(subparsers)
    for loaded in plugins:
        loaded.plugin.add_commands(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the command; the process exit code."""
    try:
        plugins = load_plugins()
    except PluginError as err:
        print(f"localcore: {err}", file=sys.stderr)
        return EXIT_USAGE
    args = build_parser(plugins).parse_args(argv)
    try:
        return int(args.func(args))
    except ControlError as err:
        print(f"localcore: {err}", file=sys.stderr)
        return EXIT_FAILED
    except RunnerError as err:
        print(f"localcore: {err}", file=sys.stderr)
        return EXIT_USAGE
