#!/usr/bin/env python3
"""Pull the app's image from ECR and (re)start its containers. Usage: app-deploy TAG"""

import json
import os
import re
import subprocess
import sys
import urllib.parse

CONF_FILE = os.environ.get("AUTOSTACK_DEPLOY_CONF", "/etc/autostack-deploy.conf")
STATE_DIR = os.environ.get("AUTOSTACK_STATE_DIR", "/var/lib/autostack")
conf = dict(line.strip().split("=", 1) for line in open(CONF_FILE) if "=" in line)
REGION = conf["AWS_REGION"]
CADDY_IMAGE = "caddy:2.8.4-alpine"
# Config names the user may set (chalicelib/models/app_config.py); others under the path
# (written by hand) are left out, as the runner does.
CONFIG_NAME = re.compile(r"^[A-Z_][A-Z0-9_]{0,127}$")
RESERVED_NAMES = {"PORT", "HOST", "PATH", "HOME", "USER", "SHELL", "PWD", "TZ", "PYTHONPATH",
                  "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV", "NODE_OPTIONS", "NODE_PATH",
                  "LD_PRELOAD", "LD_LIBRARY_PATH", "_HANDLER", "_X_AMZN_TRACE_ID"}
RESERVED_PREFIXES = ("AWS_", "AUTOSTACK_", "LAMBDA_", "ECS_")


def aws(*args):
    cmd = ["aws", "--region", REGION, *args, "--output", "text"]
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.rstrip("\n")


def app_config(path):
    """The user's config under ``path`` (values and decrypted secrets), read with the
    instance role: the values never travel in the SSM command that runs this script."""
    if not path:
        return {}
    cmd = ["aws", "--region", REGION, "ssm", "get-parameters-by-path", "--path", path,
           "--no-recursive", "--with-decryption", "--output", "json"]
    answer = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    config = {}
    for parameter in json.loads(answer or "{}").get("Parameters", []):
        name = parameter["Name"].rsplit("/", 1)[-1]
        if (CONFIG_NAME.match(name) and name not in RESERVED_NAMES
                and not name.startswith(RESERVED_PREFIXES)):
            config[name] = parameter["Value"]
    return config


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
    companions = cfg.get("companions", [])
    for other in companions:
        subprocess.run(["docker", "pull", other["repository_url"] + ":" + tag], check=True)

    env = dict(cfg["environment"])
    config = app_config(cfg.get("config_path", ""))
    for name, parameter in cfg["secrets"].items():
        if name in config:
            continue  # a secret provided through AutoStack (just read)
        env[name] = aws("ssm", "get-parameter", "--with-decryption", "--name", parameter,
                        "--query", "Parameter.Value")
    for name, parameter in cfg.get("optional_secrets", {}).items():
        if name in config:
            continue
        try:  # an optional feature's secret: on when the user has set it, else left unset
            env[name] = aws("ssm", "get-parameter", "--with-decryption", "--name", parameter,
                            "--query", "Parameter.Value")
        except subprocess.CalledProcessError:
            pass
    env.update(config)  # the user's config wins over the bundle's defaults
    if cfg.get("db_secret_arn"):
        secret = json.loads(aws("secretsmanager", "get-secret-value", "--secret-id",
                                cfg["db_secret_arn"], "--query", "SecretString"))
        for name in cfg.get("password_env", ["DB_PASSWORD"]):
            env[name] = secret["password"]
        facts = {"user": urllib.parse.quote(env["DB_USER"], safe=""),
                 "password": urllib.parse.quote(secret["password"], safe=""),
                 "host": env["DB_HOST"], "port": env["DB_PORT"], "db": env["DB_NAME"]}
        scheme = "postgresql" if cfg.get("db_engine") == "postgres" else "mysql"
        default = {"DATABASE_URL": scheme + "://{user}:{password}@{host}:{port}/{db}"}
        for name, template in cfg.get("database_urls", default).items():
            env[name] = template.format(**facts)
    # Values travel in the docker client's environment, never on a command line.
    child_env = dict(os.environ, **env)
    env_flags = [flag for name in env for flag in ("-e", name)]
    common = ["--restart", "unless-stopped", "-v", STATE_DIR + "/data:/data",
              "--log-driver", "awslogs", "--log-opt", "awslogs-region=" + REGION,
              "--log-opt", "awslogs-group=" + cfg["log_group"]]
    domain = cfg.get("domain")
    subprocess.run(["docker", "network", "create", "autostack"], check=False, capture_output=True)
    common += ["--network", "autostack"]
    routed = [other for other in companions if other["routed"]]
    # With a domain or several web apps, Caddy publishes 80 (and 443) and routes to the apps;
    # else the app takes port 80 itself.
    proxied = bool(domain or routed)
    published = [] if proxied else ["-p", "80:{}".format(cfg["port"])]
    containers = [("app", published, image, [])]  # type: list[tuple[str, list[str], str, list[str]]]
    images = {other["name"]: other["repository_url"] + ":" + tag for other in companions}
    for worker in cfg["workers"]:  # a companion's worker runs from that companion's image
        containers.append(("worker-" + worker["name"], [], images.get(worker.get("app"), image),
                           ["/bin/sh", "-c", worker["command"]]))
    for other in companions:
        containers.append((other["name"], [], other["repository_url"] + ":" + tag, []))
    # The release step (migrations) runs once, to completion, before any container is
    # replaced: a failure leaves the running version serving.
    for command in cfg.get("release", []):
        subprocess.run(["docker", "run", "--rm", "--name", "release", *common[2:], *env_flags,
                        "--log-opt", "awslogs-stream=release", image, "/bin/sh", "-c", command],
                       check=True, env=child_env)
    for name, extra, container_image, command in containers:
        subprocess.run(["docker", "rm", "-f", name], check=False, capture_output=True)
        subprocess.run(["docker", "run", "-d", "--name", name, *common, *extra, *env_flags,
                        "--log-opt", "awslogs-stream=" + name, container_image, *command],
                       check=True, env=child_env)
    if proxied:
        lines = [(domain or ":80") + " {"]
        for other in routed:  # the path prefix is kept: each app serves under /<name>/
            lines += ["\t@{0} path /{0} /{0}/*".format(other["name"]),
                      "\thandle @{} {{".format(other["name"]),
                      "\t\treverse_proxy {}:{}".format(other["name"], other["port"]), "\t}"]
        lines += ["\thandle {", "\t\treverse_proxy app:{}".format(cfg["port"]), "\t}", "}"]
        os.makedirs(STATE_DIR + "/caddy", exist_ok=True)
        with open(STATE_DIR + "/Caddyfile", "w") as caddyfile:
            caddyfile.write("\n".join(lines) + "\n")
        ports = ["-p", "80:80"] + (["-p", "443:443"] if domain else [])
        subprocess.run(["docker", "rm", "-f", "proxy"], check=False, capture_output=True)
        subprocess.run(["docker", "run", "-d", "--name", "proxy", "--restart", "unless-stopped",
                        "--network", "autostack", *ports,
                        "-v", STATE_DIR + "/caddy:/data",
                        "-v", STATE_DIR + "/Caddyfile:/etc/caddy/Caddyfile:ro", CADDY_IMAGE,
                        "caddy", "run", "--config", "/etc/caddy/Caddyfile", "--adapter",
                        "caddyfile"], check=True)
    subprocess.run(["docker", "image", "prune", "-af"], check=False, capture_output=True)


if __name__ == "__main__":
    main()
