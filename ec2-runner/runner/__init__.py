"""AutoStack's runner agent: polls the jobs queue and runs analysis and Terraform jobs."""
