# The 10-user profile: every default fits it. Set the two required values and apply:
#   terraform -chdir=infrastructure apply -var-file=minimal.tfvars
region             = "us-east-1"
alarm_email        = "ops@example.com"
runner_release_url = "https://github.com/example/autostack/archive/refs/tags/v0.1.0.tar.gz"
