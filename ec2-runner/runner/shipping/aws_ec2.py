"""EC2: the instance swaps its container through SSM (its own ``app-deploy`` script).

- build: ``aws_build.CodeBuildImages``.
- release + roll out: one SSM ``SendCommand`` of ``/usr/local/bin/app-deploy <tag>``
  (``AWS-RunShellScript``), followed with ``GetCommandInvocation``. The script pulls the
  image, runs the release commands once to completion, and only then replaces the
  containers: a failed release leaves the running version serving. Its output goes to
  the deployment log.
- config: the instance reads it itself. ``app-deploy`` reads the parameters under
  ``/autostack/<project>/<stack>/`` (its runtime config names the path; the instance role
  may ``GetParametersByPath`` there, decrypting through SSM) into the containers'
  environment. The SSM command carries only the tag: a command's parameters stay visible
  in the command history, so no value ever goes through it. Its output is masked with
  the secrets' values before it reaches the deployment log.
- ``discard`` runs ``app-deploy`` with the previous release's tag.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from runner.shipping.aws_build import CodeBuildImages, error_code
from runner.shipping.aws_target import AwsClients, AwsTarget, Waiter
from runner.shipping.executor import Candidate, LogLine, PhaseFailedError, ReleaseSpec

DEPLOY_SCRIPT = "/usr/local/bin/app-deploy"
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_DONE = {"Success", "Failed", "Cancelled", "TimedOut", "Cancelling"}
_RELEASE_FAILED = re.compile(r"--name'?,? '?release\b|name release\b")


@dataclass
class Ec2Executor:
    clients: AwsClients
    target: AwsTarget
    waiter: Waiter
    name: str = "aws-ec2"

    def build(self, spec: ReleaseSpec, log: LogLine) -> Candidate:
        image = CodeBuildImages(self.clients, self.target, self.waiter).ensure(spec, log)
        return Candidate(spec.release_id, self.target.app_url, handle={"image": image})

    def run_release(self, spec: ReleaseSpec, candidate: Candidate, log: LogLine) -> None:
        log("the instance runs the release commands before it swaps the containers (app-deploy)")

    def roll_out(self, spec: ReleaseSpec, candidate: Candidate, log: LogLine) -> str:
        candidate.handle["rolled"] = True
        output = self.deploy(spec.image_tag, log, spec.config.masked)
        if output is not None:
            phase = (
                "releasing" if spec.plan.release and _RELEASE_FAILED.search(output) else "verifying"
            )
            raise PhaseFailedError(
                phase,
                f"app-deploy {spec.image_tag} failed on {self.target.instance_id}; the "
                "previous containers keep serving",
                log_tail=output,
            )
        return self.target.app_url

    def put_back(self, image_tag: str, log: LogLine) -> None:
        """Serve ``image_tag`` again (a release cut off after its roll-out)."""
        failed = self.deploy(image_tag, log)
        if failed is not None:
            raise PhaseFailedError("verifying", f"putting {image_tag} back failed",
                                   log_tail=failed)  # fmt: skip

    def deploy(
        self, tag: str, log: LogLine, mask: Callable[[str], str] = lambda text: text
    ) -> str | None:
        """Run app-deploy TAG on the instance: None on success, else its (masked) output."""
        if not _TAG.match(tag):
            raise PhaseFailedError("verifying", f"image_tag: {tag!r} is not a Docker tag")
        ssm = self.clients.ssm
        sent = ssm.send_command(
            InstanceIds=[self.target.instance_id],
            DocumentName="AWS-RunShellScript",
            Comment=f"autostack deploy {tag}",
            Parameters={"commands": [f"{DEPLOY_SCRIPT} {tag}"]},
            TimeoutSeconds=1800,
        )["Command"]
        command_id = sent["CommandId"]
        log(f"SSM command {command_id}: {DEPLOY_SCRIPT} {tag} on {self.target.instance_id}")

        def finished() -> dict[str, Any] | None:
            try:
                answer = ssm.get_command_invocation(
                    CommandId=command_id, InstanceId=self.target.instance_id
                )
            except Exception as exc:
                if error_code(exc) == "InvocationDoesNotExist":
                    return None  # not registered yet
                raise
            return dict(answer) if answer.get("Status") in _DONE else None

        done = self.waiter.until("verifying", f"SSM command {command_id}", finished)
        output = mask("\n".join(
            part for part in (done.get("StandardOutputContent"), done.get("StandardErrorContent"))
            if part
        ))  # fmt: skip
        for line in output.splitlines()[-30:]:
            log(f"  {line}")
        if done.get("Status") == "Success":
            return None
        return f"status {done.get('Status')}\n{output}"

    def keep(self, spec: ReleaseSpec, candidate: Candidate, log: LogLine) -> None:
        log(f"{spec.image_tag} serves on {self.target.instance_id}")

    def discard(self, spec: ReleaseSpec, candidate: Candidate, log: LogLine) -> None:
        if not isinstance(candidate.handle, dict) or not candidate.handle.get("rolled"):
            return
        if not spec.previous_image_tag:
            log("no previous release to put back on the instance")
            return
        failed = self.deploy(spec.previous_image_tag, log, spec.config.masked)
        log(f"the instance is back on {spec.previous_image_tag}" if failed is None
            else f"putting {spec.previous_image_tag} back failed: {failed[:500]}")  # fmt: skip
