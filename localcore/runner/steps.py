"""Running one component's lifecycle steps: Bootstrap and Install once per version, Shutdown and
Recover to their end, Run and Startup as processes the supervisor watches.

Each step runs in its own process group with the step's environment and interpolated script;
``Skipif`` and ``RequiresPrivilege`` are handled here (NUC ``Lifecycle.java``, ``LifecycleStep``).
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from localcore.runner.launch import LaunchContext
from localcore.runner.process import StepProcess, run_step_to_end
from localcore.runner.recipe import Step

# Bootstrap's exit codes that ask the nucleus to restart or the device to reboot (both succeed).
BOOTSTRAP_RESTART_CODES = {100: "a nucleus restart", 101: "a device reboot"}
BOOTSTRAP_OK_CODES = frozenset((0, *BOOTSTRAP_RESTART_CODES))
# Default step timeouts in seconds (NUC Lifecycle.java).
DEFAULT_TIMEOUTS = {"install": 120.0, "startup": 120.0, "shutdown": 15.0, "recover": 60.0, "bootstrap": 120.0}


class StepRunner:
    """The steps of one component, run on its supervisor's thread."""

    def __init__(self, context: LaunchContext) -> None:
        self.context = context
        self._settings = context.settings

    def run_once(
        self, name: str, ok_codes: frozenset[int], should_abort: Callable[[], bool]
    ) -> tuple[bool | None, str]:
        """Run Bootstrap or Install once per component version (and script).

        ``(True, "")`` when done or skipped, ``(False, detail)`` on failure or timeout, and
        ``(None, "")`` when ``should_abort`` stopped it.
        """
        step: Step | None = getattr(self.context.recipe.lifecycle, name)
        if step is None:
            return True, ""
        if step.requires_privilege and os.geteuid() != 0:
            self.context.output.info(
                f"{name}: RequiresPrivilege is set; localcore runs it as the current user"
            )
        script = self.context.interpolate(step.script)
        marker = self._once_marker(name, script)
        if marker.exists():
            self.context.output.info(
                f"{name}: already done for version {self.context.recipe.version}, skipped"
            )
            return True, ""
        env = self.context.environment(step)
        if self._skip(name, step, env):
            return True, ""
        code = run_step_to_end(
            step=name,
            script=script,
            env=env,
            cwd=self.context.cwd,
            output=self.context.output,
            timeout=step.timeout or DEFAULT_TIMEOUTS[name],
            should_abort=should_abort,
            preexec=self.context.preexec,
            poll_interval=self._settings.poll_interval,
        )
        if code is None:
            if should_abort():
                return None, ""
            return False, f"{name.capitalize()} timed out"
        self.context.output.info(f"{name}: exited with code {code}")
        if code not in ok_codes:
            return False, f"{name.capitalize()} exited with code {code}"
        if code in BOOTSTRAP_RESTART_CODES:
            # 100: restart the nucleus, 101: reboot the device. Neither applies to a local core.
            self.context.output.info(
                f"{name}: asked for {BOOTSTRAP_RESTART_CODES[code]}; localcore carries on"
            )
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(f"{self.context.recipe.version}\n")
        return True, ""

    def _once_marker(self, step: str, script: str) -> Path:
        # Once per component version; a changed script (local development) runs again.
        digest = hashlib.sha256(script.encode()).hexdigest()[:16]
        suffix = "" if step == "install" else f"-{step}"
        return (
            self.context.install_markers
            / f"{self.context.recipe.name}@{self.context.recipe.version}-{digest}{suffix}"
        )

    def _skip(self, name: str, step: Step, env: dict[str, str]) -> bool:
        if step.skipif is None:
            return False
        kind, target = step.skipif
        target = self.context.interpolate(target)
        if kind == "onpath":
            found = shutil.which(target, path=env.get("PATH")) is not None
        else:
            found = (self.context.cwd / target).exists()
        if found:
            self.context.output.info(f"{name}: skipped (Skipif {kind} {target})")
        return found

    def spawn(self, step_name: str, step: Step) -> StepProcess:
        """Start a long-running step (Run, Startup) in its own process group."""
        return StepProcess(
            step=step_name,
            script=self.context.interpolate(step.script),
            env=self.context.environment(step),
            cwd=self.context.cwd,
            output=self.context.output,
            preexec=self.context.preexec,
        )

    def run_aux(self, name: str) -> int | None:
        """Run Shutdown or Recover to its end (or its timeout); its exit code, None if it did not run."""
        step: Step | None = getattr(self.context.recipe.lifecycle, name)
        if step is None:
            return None
        try:
            code = run_step_to_end(
                step=name,
                script=self.context.interpolate(step.script),
                env=self.context.environment(step),
                cwd=self.context.cwd,
                output=self.context.output,
                timeout=step.timeout or DEFAULT_TIMEOUTS[name],
                should_abort=lambda: False,
                poll_interval=self._settings.poll_interval,
            )
        except OSError as err:
            self.context.output.info(f"{name}: cannot start: {err}")
            return None
        self.context.output.info(
            f"{name}: exited with code {code}" if code is not None else f"{name}: did not finish"
        )
        return code
