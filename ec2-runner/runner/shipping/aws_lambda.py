"""Lambda: the image goes in with ``UpdateFunctionCode``, a version and the ``live`` alias.

- build: ``aws_build.CodeBuildImages``.
- config: written into the function's environment at release time, secrets resolved (the
  runner read them from the user's SSM). Why not the parameter path plus a read in the
  app: an app reads its settings from its environment, an image function cannot take the
  Parameters and Secrets extension as a layer, and an SDK read would mean changing the
  user's code. Lambda encrypts the environment at rest with KMS; its values are visible
  to whoever may call ``GetFunctionConfiguration`` in the user's account (the account's
  own admins), never in AutoStack's table, logs or Terraform state.
- release: the bundle's release function (the same image, a minimal runtime that runs
  the release commands once per invocation) gets the new image and the config and is
  invoked synchronously; a ``FunctionError`` fails ``releasing`` with the end of its log.
- roll out: ``UpdateFunctionCode`` and the config into ``$LATEST``, ``PublishVersion``,
  then ``$LATEST``'s environment is put back as Terraform wrote it (so a later apply
  sees no drift and publishes nothing; the secrets stay only in the published version)
  and the alias ``live`` moves to that version. The bundle's HTTP API invokes the alias,
  so traffic moves only here; ``discard`` puts the alias (and the previous image) back
  and deletes the candidate's version (Terraform's alias follows the newest version).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from runner.shipping.app_config import AppEnvironment
from runner.shipping.aws_build import CodeBuildImages, error_code
from runner.shipping.aws_target import (
    CONFIG_NAMES_VAR,
    AwsClients,
    AwsTarget,
    Waiter,
    config_names,
    marker_of,
)
from runner.shipping.executor import Candidate, LogLine, PhaseFailedError, ReleaseSpec

ALIAS = "live"
ENVIRONMENT_LIMIT_BYTES = 4096  # Lambda's limit for all of a function's variables


def without_config(environment: Mapping[str, str]) -> dict[str, str]:
    """``environment`` without the config an earlier release put in (its marker's names)."""
    earlier = config_names(environment) | {CONFIG_NAMES_VAR}
    return {k: v for k, v in environment.items() if k not in earlier}


def with_config(environment: Mapping[str, str], config: AppEnvironment) -> dict[str, str]:
    """The function's variables with ``config`` in place of an earlier release's (the
    user's value wins over the bundle's variable of the same name)."""
    return {
        **without_config(environment),
        **config.values,
        **config.secrets,
        **marker_of(config),
    }


def _size(environment: Mapping[str, str]) -> int:
    return sum(len(k.encode()) + len(v.encode()) for k, v in environment.items())


@dataclass
class LambdaRollout:
    image: str
    config: AppEnvironment | None = None
    """None: publish the code with the environment ``$LATEST`` has (a put-back)."""
    previous_image: str = ""
    previous_version: str = ""
    version: str = ""
    """The version published for the candidate."""
    rolled: bool = False
    notes: list[str] = field(default_factory=list)


@dataclass
class LambdaExecutor:
    clients: AwsClients
    target: AwsTarget
    waiter: Waiter
    name: str = "aws-lambda"

    def build(self, spec: ReleaseSpec, log: LogLine) -> Candidate:
        # Before the build: a config that cannot fit the function fails at once.
        current = self._environment(self.target.function_name)
        size = _size(with_config(current, spec.config))
        if size > ENVIRONMENT_LIMIT_BYTES:
            raise PhaseFailedError(
                "building",
                f"app config: the function's environment would be {size} bytes with the "
                f"config; Lambda allows {ENVIRONMENT_LIMIT_BYTES} bytes in all (unset or "
                "shorten some values)",
            )
        image = CodeBuildImages(self.clients, self.target, self.waiter).ensure(spec, log)
        return Candidate(
            spec.release_id, self.target.app_url, handle=LambdaRollout(image, spec.config)
        )

    def _environment(self, function: str) -> dict[str, str]:
        config = self.clients.lambda_.get_function_configuration(FunctionName=function)
        return dict((config.get("Environment") or {}).get("Variables") or {})

    def _wait_updated(self, function: str, phase: str, what: str) -> None:
        def updated() -> bool | None:
            config = self.clients.lambda_.get_function_configuration(FunctionName=function)
            status = config.get("LastUpdateStatus", "Successful")
            if status == "Failed":
                raise PhaseFailedError(
                    phase,
                    f"{function}: the {what} failed: {config.get('LastUpdateStatusReason')}",
                )
            return True if status == "Successful" else None

        self.waiter.until(phase, f"the {what} of {function}", updated)

    def _update_code(self, function: str, image: str, phase: str) -> None:
        self.clients.lambda_.update_function_code(FunctionName=function, ImageUri=image)
        self._wait_updated(function, phase, "code update")

    def _set_environment(self, function: str, variables: dict[str, str], phase: str) -> None:
        self.clients.lambda_.update_function_configuration(
            FunctionName=function, Environment={"Variables": variables}
        )
        self._wait_updated(function, phase, "configuration update")

    def run_release(self, spec: ReleaseSpec, candidate: Candidate, log: LogLine) -> None:
        function = self.target.release_function_name
        if not function:
            raise PhaseFailedError(
                "releasing", "outputs.release_function_name: missing, but the plan has a release"
            )
        rollout: LambdaRollout = candidate.handle
        self._update_code(function, rollout.image, "releasing")
        if rollout.config is not None:
            current = self._environment(function)
            wanted = with_config(current, rollout.config)
            if wanted != current:
                self._set_environment(function, wanted, "releasing")
        answer = self.clients.lambda_.invoke(
            FunctionName=function,
            InvocationType="RequestResponse",
            LogType="Tail",
            Payload=json.dumps({"autostack": "release", "release_id": spec.release_id}).encode(),
        )
        tail = base64.b64decode(answer.get("LogResult") or b"").decode("utf-8", "replace")
        tail = spec.config.masked(tail)  # the app may print its environment
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
        """Serve ``image_tag`` again (a release cut off after its roll-out): the alias goes
        back to the version published for it, which has its config; else that image is
        published again with the environment ``$LATEST`` has."""
        function = self.target.function_name
        version = self._version_of(function, image_tag)
        if version:
            self._point_alias(function, version)
            log(f"{function}: version {version} ({image_tag}) is {ALIAS} again")
            return
        self._switch(LambdaRollout(self.target.image_uri(image_tag)), image_tag, log)

    def _version_of(self, function: str, image_tag: str) -> str | None:
        """The newest version published for ``image_tag`` (its description)."""
        found: list[int] = []
        marker: str | None = None
        while True:
            page = self.clients.lambda_.list_versions_by_function(
                FunctionName=function, **({"Marker": marker} if marker else {})
            )
            for version in page.get("Versions") or []:
                number = str(version.get("Version", ""))
                if number.isdigit() and version.get("Description") == image_tag:
                    found.append(int(number))
            marker = page.get("NextMarker")
            if not marker:
                break
        return str(max(found)) if found else None

    def _switch(self, rollout: LambdaRollout, description: str, log: LogLine) -> None:
        function = self.target.function_name
        client = self.clients.lambda_
        code = client.get_function(FunctionName=function)["Code"]
        rollout.previous_image = str(code.get("ImageUri", ""))
        rollout.previous_version = self._alias_version(function) or ""
        rollout.rolled = True
        self._update_code(function, rollout.image, "verifying")
        base: dict[str, str] | None = None
        if rollout.config is not None:
            current = self._environment(function)
            base = without_config(current)
            wanted = with_config(current, rollout.config)
            if wanted != current:
                self._set_environment(function, wanted, "verifying")
        published = client.publish_version(FunctionName=function, Description=description)
        version = str(published["Version"])
        if version != rollout.previous_version:
            rollout.version = version
        if (
            base is not None
            and rollout.config is not None
            and (rollout.config.values or rollout.config.secrets)
        ):
            # $LATEST as Terraform wrote it: no drift for the next apply, and the
            # secrets stay in the published (alias-served) version only.
            self._set_environment(function, base, "verifying")
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
        if rollout.previous_version:  # traffic first: the alias is what serves
            self._point_alias(function, rollout.previous_version)
            if rollout.version:
                # Gone, so that the newest version is the serving one again: Terraform
                # points the alias at the newest version at its next apply.
                self.clients.lambda_.delete_function(
                    FunctionName=function, Qualifier=rollout.version
                )
        if rollout.previous_image:
            self._update_code(function, rollout.previous_image, "verifying")
        log(f"{function} is back on {rollout.previous_image or 'its previous code'}")
