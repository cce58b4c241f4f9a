"""AutoStack's runner agent: polls the jobs queue and runs analysis and Terraform jobs."""

__version__ = "0.1.0"
