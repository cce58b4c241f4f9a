"""Shipping: after the infrastructure is applied, build, release, roll out and verify the app.

One module per phase (``build``, ``release_command``, ``rollout``, ``verify``), the
order and bookkeeping in ``pipeline`` (each phase's log section and timing on the job
item), the executor interface in ``executor``. Executors:

- ``local.LocalExecutor`` (**local stage only**, ``AUTOSTACK_RELEASE_EXECUTOR=local``):
  the runner's ``LocalRuntime`` builds and starts the app natively on 127.0.0.1. It runs
  user code with the runner's privileges; it is refused outside the local and test
  stages. **In AWS the runner never runs user code**: there the build is a CodeBuild
  build in the user's account and the app runs on the user's ECS/EC2/Lambda.
- Missing (slot in through ``executor.ReleaseExecutor``): CodeBuild StartBuild + follow
  (build), ECS RunTask / SSM SendCommand / Lambda Invoke (release command), ECS
  UpdateService / SSM container swap / Lambda UpdateFunctionCode + alias (roll out).
  Until they exist, a runner outside the local stage has no executor and a generated
  deployment ends at ``applied`` as before.
"""
