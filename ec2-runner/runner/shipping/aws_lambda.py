"""Lambda: the image goes in with ``UpdateFunctionCode``, a version and the ``live`` alias.

- build: ``aws_build.CodeBuildImages``.
- release: the bundle's release function (the same image, a minimal runtime that runs
  the release commands once per invocation) gets the new image and is invoked
  synchronously; a ``FunctionError`` fails ``releasing`` with the end of its log.
- roll out: ``UpdateFunctionCode`` (wait until updated), ``PublishVersion``, the alias
  ``live`` moved to that version. The bundle's HTTP API invokes the function itself
  (``$LATEST``), so traffic moves with the code update; ``discard`` puts the previous
  image back and the alias on the previous version.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

from runner.shipping.aws_build import CodeBuildImages, error_code
from runner.shipping.aws_target import AwsClients, AwsTarget, Waiter
from runner.shipping.executor import Candidate, LogLine, PhaseFailedError, ReleaseSpec

ALIAS = "live"


@dataclass
class LambdaRollout:
    image: str
    previous_image: str = ""
    previous_version: str = ""
    rolled: bool = False


@dataclass
class LambdaExecutor:
    clients: AwsClients
    target: AwsTarget
    waiter: Waiter
    name: str = "aws-lambda"

    def build(self, spec: ReleaseSpec, log: LogLine) -> Candidate:
        image = CodeBuildImages(self.clients, self.target, self.waiter).ensure(spec, log)
        return Candidate(spec.release_id, self.target.app_url, handle=LambdaRollout(image))

    def _update_code(self, function: str, image: str, phase: str) -> None:
        self.clients.lambda_.update_function_code(FunctionName=function, ImageUri=image)

        def updated() -> bool | None:
            config = self.clients.lambda_.get_function_configuration(FunctionName=function)
            status = config.get("LastUpdateStatus", "Successful")
            if status == "Failed":
                raise PhaseFailedError(
                    phase,
                    f"{function}: the code update failed: {config.get('LastUpdateStatusReason')}",
                )
            return True if status == "Successful" else None

        self.waiter.until(phase, f"the code update of {function}", updated)

    def run_release(self, spec: ReleaseSpec, candidate: Candidate, log: LogLine) -> None:
        function = self.target.release_function_name
        if not function:
            raise PhaseFailedError(
                "releasing", "outputs.release_function_name: missing, but the plan has a release"
            )
        self._update_code(function, candidate.handle.image, "releasing")
        answer = self.clients.lambda_.invoke(
            FunctionName=function,
            InvocationType="RequestResponse",
            LogType="Tail",
            Payload=json.dumps({"autostack": "release", "release_id": spec.release_id}).encode(),
        )
        tail = base64.b64decode(answer.get("LogResult") or b"").decode("utf-8", "replace")
        if answer.get("FunctionError"):
            raise PhaseFailedError(
                "releasing",
                f"the release function {function} failed ({answer['FunctionError']}); the "
                "previous version keeps serving",
                log_tail=tail,
            )
        log(f"the release function {function} succeeded")

    def roll_out(self, spec: ReleaseSpec, candidate: Candidate, log: LogLine) -> str:
        self._switch(candidate.handle, spec.image_tag, log)
        return self.target.app_url

    def put_back(self, image_tag: str, log: LogLine) -> None:
        """Serve ``image_tag`` again (a release cut off after its roll-out)."""
        self._switch(LambdaRollout(self.target.image_uri(image_tag)), image_tag, log)

    def _switch(self, rollout: LambdaRollout, description: str, log: LogLine) -> None:
        function = self.target.function_name
        client = self.clients.lambda_
        code = client.get_function(FunctionName=function)["Code"]
        rollout.previous_image = str(code.get("ImageUri", ""))
        rollout.previous_version = self._alias_version(function) or ""
        rollout.rolled = True
        self._update_code(function, rollout.image, "verifying")
        published = client.publish_version(FunctionName=function, Description=description)
        version = str(published["Version"])
        self._point_alias(function, version)
        log(f"{function}: version {version} ({rollout.image}) is {ALIAS}")

    def _alias_version(self, function: str) -> str | None:
        try:
            return str(
                self.clients.lambda_.get_alias(FunctionName=function, Name=ALIAS)["FunctionVersion"]
            )
        except Exception as exc:
            if error_code(exc) == "ResourceNotFoundException":
                return None
            raise

    def _point_alias(self, function: str, version: str) -> None:
        if self._alias_version(function) is None:
            self.clients.lambda_.create_alias(
                FunctionName=function, Name=ALIAS, FunctionVersion=version
            )
        else:
            self.clients.lambda_.update_alias(
                FunctionName=function, Name=ALIAS, FunctionVersion=version
            )

    def keep(self, spec: ReleaseSpec, candidate: Candidate, log: LogLine) -> None:
        log(f"{self.target.function_name}:{ALIAS} serves {spec.image_tag}")

    def discard(self, spec: ReleaseSpec, candidate: Candidate, log: LogLine) -> None:
        rollout = candidate.handle
        if not isinstance(rollout, LambdaRollout) or not rollout.rolled:
            return
        function = self.target.function_name
        if rollout.previous_image:
            self._update_code(function, rollout.previous_image, "verifying")
        if rollout.previous_version:
            self._point_alias(function, rollout.previous_version)
        log(f"{function} is back on {rollout.previous_image or 'its previous code'}")
