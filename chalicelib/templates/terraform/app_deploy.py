#!/usr/bin/env python3
"""Pull the app's image from ECR and (re)start its containers. Usage: app-deploy TAG"""

import json
import os
import subprocess
import sys
import urllib.parse

conf = dict(line.strip().split("=", 1) for line in open("/etc/autostack-deploy.conf") if "=" in line)
REGION = conf["AWS_REGION"]


def aws(*args):
    cmd = ["aws", "--region", REGION, *args, "--output", "text"]
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.rstrip("\n")


def main():
    tag = sys.argv[1] if len(sys.argv) > 1 else "latest"
    cfg = json.loads(aws("ssm", "get-parameter", "--name", conf["CONFIG_PARAMETER"],
                         "--query", "Parameter.Value"))
    repo = cfg["repository_url"]
    password = aws("ecr", "get-login-password")
    subprocess.run(["docker", "login", "--username", "AWS", "--password-stdin", repo.split("/")[0]],
                   input=password, text=True, check=True)
    image = repo + ":" + tag
    subprocess.run(["docker", "pull", image], check=True)

    env = dict(cfg["environment"])
    for name, parameter in cfg["secrets"].items():
        env[name] = aws("ssm", "get-parameter", "--with-decryption", "--name", parameter,
                        "--query", "Parameter.Value")
    if cfg.get("db_secret_arn"):
        secret = json.loads(aws("secretsmanager", "get-secret-value", "--secret-id",
                                cfg["db_secret_arn"], "--query", "SecretString"))
        env["DB_PASSWORD"] = secret["password"]
        scheme = "postgresql" if cfg["db_engine"] == "postgres" else "mysql"
        env.setdefault("DATABASE_URL", "{}://{}:{}@{}:{}/{}".format(
            scheme, urllib.parse.quote(env["DB_USER"], safe=""),
            urllib.parse.quote(secret["password"], safe=""), env["DB_HOST"], env["DB_PORT"],
            env["DB_NAME"]))
    # Values travel in the docker client's environment, never on a command line.
    child_env = dict(os.environ, **env)
    env_flags = [flag for name in env for flag in ("-e", name)]
    common = ["--restart", "unless-stopped", "-v", "/var/lib/autostack/data:/data",
              "--log-driver", "awslogs", "--log-opt", "awslogs-region=" + REGION,
              "--log-opt", "awslogs-group=" + cfg["log_group"]]
    containers = [("app", ["-p", "80:{}".format(cfg["port"])], [])]
    for worker in cfg["workers"]:
        containers.append(("worker-" + worker["name"], [], ["/bin/sh", "-c", worker["command"]]))
    for name, extra, command in containers:
        subprocess.run(["docker", "rm", "-f", name], check=False, capture_output=True)
        subprocess.run(["docker", "run", "-d", "--name", name, *common, *extra, *env_flags,
                        "--log-opt", "awslogs-stream=" + name, image, *command],
                       check=True, env=child_env)
    subprocess.run(["docker", "image", "prune", "-af"], check=False, capture_output=True)


if __name__ == "__main__":
    main()
