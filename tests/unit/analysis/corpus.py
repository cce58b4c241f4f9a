# ruff: noqa: E501  (example apps are data; long lines keep each file readable)
"""A corpus of small example apps across stacks, each with the profile fields it must produce.

Every case is ``files`` (path -> content) and ``expect``:
- ``apps``: {path: {field: value}} for every app that must exist (and no others). Fields are
  App fields, plus ``framework``/``framework_version`` and ``port``/``port_source``/``port_env``.
- ``services``: {kind: version or None}, exactly the set of kinds.
- ``workers``: set of (name, system); ``env``: {name: (is_secret, default)} (a subset);
  ``secrets``: set of types (exact); ``existing``: set of types (subset);
  ``tests``: the tests command (``False`` = no tests); ``warnings``: substrings that must occur;
  ``no_warnings``: substrings that must not; ``primary``: the primary language;
  ``languages_absent``: languages that must not be counted.
"""

from __future__ import annotations

import json

PKG = json.dumps


def pkg(
    name: str,
    deps: dict | None = None,
    dev: dict | None = None,
    scripts: dict | None = None,
    **extra,
) -> str:
    data: dict = {"name": name, "version": "1.0.0"}
    if scripts:
        data["scripts"] = scripts
    if deps:
        data["dependencies"] = deps
    if dev:
        data["devDependencies"] = dev
    data.update(extra)
    return json.dumps(data, indent=2)


CORPUS: dict[str, dict] = {}


def case(name: str, files: dict[str, str], **expect) -> None:
    CORPUS[name] = {"files": files, "expect": expect}


# --- Python -----------------------------------------------------------------------
case(
    "flask_hardcoded_port",
    {
        "requirements.txt": "Flask==3.0.0\ngunicorn==21.2.0\n",
        "app.py": (
            "from flask import Flask\n\napp = Flask(__name__)\n\n\n@app.get('/health')\n"
            "def health():\n    return 'ok'\n\n\nif __name__ == '__main__':\n"
            "    app.run(host='0.0.0.0', port=5050)\n"
        ),
        "tests/test_app.py": "from app import app\n\ndef test_ok():\n    assert app\n",
    },
    apps={
        ".": {
            "language": "python",
            "framework": "flask",
            "framework_version": "3.0.0",
            "kind": "web",
            "port": 5050,
            "port_source": "code",
            "port_env": None,
            "start_command": "gunicorn app:app --bind 0.0.0.0:5050",
            "package_manager": "pip",
            "healthcheck_path": "/health",
            "install_command": "pip install -r requirements.txt",
        }
    },
    services={},
    workers=set(),
    tests="python -m unittest discover",
    warnings=["port 5050 hard-coded in app.py:12"],
    primary="python",
)
case(
    "django_postgres_procfile",
    {
        "requirements.txt": "Django==5.0.1\npsycopg2-binary==2.9.9\ncelery==5.3.6\nredis==5.0.1\n",
        "manage.py": "#!/usr/bin/env python\nimport os\nimport sys\n\nif __name__ == '__main__':\n    os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'mysite.settings')\n",
        "mysite/__init__.py": "",
        "mysite/settings.py": (
            "import os\nSECRET_KEY = os.environ['DJANGO_SECRET_KEY']\nDEBUG = os.environ.get('DEBUG', 'false') == 'true'\n"
            "DATABASES = {\n    'default': {\n        'ENGINE': 'django.db.backends.postgresql',\n"
            "        'NAME': os.environ.get('DB_NAME', 'app'),\n    }\n}\n"
        ),
        "mysite/wsgi.py": "from django.core.wsgi import get_wsgi_application\napplication = get_wsgi_application()\n",
        "mysite/celery.py": "from celery import Celery\napp = Celery('mysite')\n",
        "polls/tests.py": "from django.test import TestCase\n",
        "Procfile": "web: gunicorn mysite.wsgi --bind 0.0.0.0:$PORT\nworker: celery -A mysite worker -l info\n",
        "runtime.txt": "python-3.11.7\n",
    },
    apps={
        ".": {
            "framework": "django",
            "framework_version": "5.0.1",
            "kind": "web",
            "port": 8000,
            "port_source": "framework_default",
            "runtime_version": "3.11.7",
            "start_command": "gunicorn mysite.wsgi --bind 0.0.0.0:$PORT",
            "build_command": "python manage.py collectstatic --noinput",
        }
    },
    services={"postgres": None, "redis": None},
    workers={("worker", "celery")},
    env={"DJANGO_SECRET_KEY": (True, None), "DEBUG": (False, "false"), "DB_NAME": (False, "app")},
    existing={"procfile"},
    tests="python manage.py test",
)
case(
    "fastapi_poetry_lock",
    {
        "pyproject.toml": (
            '[tool.poetry]\nname = "orders"\nversion = "0.1.0"\n\n[tool.poetry.dependencies]\n'
            'python = "^3.11"\nfastapi = "^0.110.0"\nuvicorn = "^0.27.0"\nasyncpg = "^0.29"\n\n'
            '[tool.poetry.group.dev.dependencies]\npytest = "^8.0"\n'
        ),
        "poetry.lock": (
            '[[package]]\nname = "fastapi"\nversion = "0.110.1"\n\n[[package]]\nname = "uvicorn"\n'
            'version = "0.27.1"\n'
        ),
        "app/__init__.py": "",
        "app/main.py": (
            'from fastapi import FastAPI\n\napp = FastAPI()\n\n\n@app.get("/healthz")\n'
            'async def healthz():\n    return {"ok": True}\n'
        ),
        "tests/test_main.py": "def test_x():\n    pass\n",
    },
    apps={
        ".": {
            "name": "orders",
            "framework": "fastapi",
            "framework_version": "0.110.1",
            "package_manager": "poetry",
            "runtime_version": "3.11",
            "port": 8000,
            "port_source": "framework_default",
            "healthcheck_path": "/healthz",
            "start_command": "poetry run uvicorn app.main:app --host 0.0.0.0 --port 8000",
        }
    },
    services={"postgres": None},
    tests="poetry run pytest",
)
case(
    "fastapi_uv_pep621_env_port",
    {
        "pyproject.toml": (
            '[project]\nname = "svc"\nversion = "1.0"\nrequires-python = ">=3.12"\n'
            'dependencies = [\n  "fastapi>=0.115",\n  "uvicorn[standard]>=0.30",\n  "redis>=5",\n]\n\n'
            '[tool.uv]\ndev-dependencies = ["pytest"]\n'
        ),
        "uv.lock": 'version = 1\n\n[[package]]\nname = "fastapi"\nversion = "0.115.6"\n',
        "src/svc/server.py": (
            "import os\n\nimport uvicorn\nfrom fastapi import FastAPI\n\napi = FastAPI()\n\n"
            'if __name__ == "__main__":\n    port = int(os.getenv("PORT", "8080"))\n'
            '    uvicorn.run(api, host="0.0.0.0", port=port)\n'
        ),
    },
    apps={
        ".": {
            "framework": "fastapi",
            "framework_version": "0.115.6",
            "package_manager": "uv",
            "runtime_version": "3.12",
            "port": 8080,
            "port_source": "code",
            "port_env": "PORT",
            "start_command": "uv run uvicorn src.svc.server:api --host 0.0.0.0 --port 8080",
            "install_command": "uv sync --frozen --no-dev",
        }
    },
    services={"redis": None},
    env={"PORT": (False, "8080")},
    tests=False,
)
case(
    "streamlit_dashboard",
    {
        "requirements.txt": "streamlit==1.31.0\npandas\n",
        "streamlit_app.py": "import streamlit as st\nst.title('hi')\n",
    },
    apps={
        ".": {
            "framework": "streamlit",
            "framework_version": "1.31.0",
            "port": 8501,
            "port_source": "framework_default",
            "kind": "web",
            "start_command": "streamlit run streamlit_app.py --server.address 0.0.0.0 --server.port 8501",
        }
    },
)
case(
    "gradio_demo_port_in_launch",
    {
        "requirements.txt": "gradio>=4.0\n",
        "app.py": "import gradio as gr\n\ndemo = gr.Interface(fn=str, inputs='text', outputs='text')\ndemo.launch(server_name='0.0.0.0', server_port=7861)\n",
    },
    apps={
        ".": {
            "framework": "gradio",
            "framework_version": "4.0",
            "port": 7861,
            "port_source": "code",
            "start_command": "python app.py",
        }
    },
)
case(
    "aiohttp_server",
    {
        "requirements.txt": "aiohttp==3.9.1\n",
        "server.py": "from aiohttp import web\n\napp = web.Application()\n\nweb.run_app(app, port=8081)\n",
    },
    apps={
        ".": {
            "framework": "aiohttp",
            "framework_version": "3.9.1",
            "port": 8081,
            "port_source": "code",
        }
    },
)
case(
    "python_cli_no_framework",
    {
        "requirements.txt": "requests==2.31.0\n",
        "main.py": "import argparse\nimport requests\n\n\ndef main():\n    argparse.ArgumentParser()\n\n\nif __name__ == '__main__':\n    main()\n",
    },
    apps={".": {"framework": None, "kind": "cli", "start_command": "python main.py", "port": None}},
    services={},
    workers=set(),
)
# --- JavaScript / TypeScript ---------------------------------------------------------
case(
    "express_mongo_env_port",
    {
        "package.json": pkg(
            "shop-api",
            {"express": "^4.18.2", "mongoose": "^8.0.0"},
            scripts={"start": "node server.js", "test": "jest"},
            dev={"jest": "^29"},
        ),
        "package-lock.json": json.dumps(
            {
                "lockfileVersion": 3,
                "packages": {
                    "": {"name": "shop-api"},
                    "node_modules/express": {"version": "4.18.2"},
                },
            }
        ),
        ".nvmrc": "v20.11.0\n",
        "server.js": (
            "const express = require('express');\nconst app = express();\n"
            "const PORT = process.env.PORT || 3000;\napp.get('/health', (req, res) => res.send('ok'));\n"
            "const uri = process.env.MONGODB_URI;\napp.listen(PORT);\n"
        ),
    },
    apps={
        ".": {
            "name": "shop-api",
            "language": "javascript",
            "framework": "express",
            "framework_version": "4.18.2",
            "runtime_version": "20.11.0",
            "package_manager": "npm",
            "port": 3000,
            "port_source": "code",
            "port_env": "PORT",
            "start_command": "npm start",
            "install_command": "npm ci",
            "healthcheck_path": "/health",
            "kind": "web",
        }
    },
    services={"mongodb": None},
    env={"PORT": (False, "3000"), "MONGODB_URI": (True, None)},
    tests="npm test",
    primary="javascript",
)
case(
    "nextjs_yarn_port_flag",
    {
        "package.json": pkg(
            "site",
            {"next": "14.1.0", "react": "18.2.0"},
            scripts={"dev": "next dev", "build": "next build", "start": "next start -p 4000"},
        ),
        "yarn.lock": '"next@14.1.0":\n  version "14.1.0"\n',
        "tsconfig.json": "{}",
        "app/page.tsx": "export default function Page() { return <main>hi</main> }\n",
    },
    apps={
        ".": {
            "framework": "nextjs",
            "framework_version": "14.1.0",
            "package_manager": "yarn",
            "language": "typescript",
            "kind": "web",
            "port": 4000,
            "port_source": "config",
            "build_command": "yarn run build",
            "start_command": "yarn start",
        }
    },
)
case(
    "nextjs_static_export",
    {
        "package.json": pkg("docs", {"next": "^14.2.3"}, scripts={"build": "next build"}),
        "next.config.mjs": "export default { output: 'export' };\n",
        "pages/index.js": "export default function Home() { return null }\n",
    },
    apps={
        ".": {
            "framework": "nextjs",
            "kind": "static",
            "static_output_dir": "out",
            "port": None,
            "start_command": None,
        }
    },
)
case(
    "vite_react_spa_pnpm",
    {
        "package.json": pkg(
            "spa",
            {"react": "^18.2.0"},
            dev={"vite": "^5.0.8", "@vitejs/plugin-react": "^4"},
            scripts={"dev": "vite", "build": "vite build", "preview": "vite preview"},
        ),
        "pnpm-lock.yaml": "lockfileVersion: '6.0'\n\ndevDependencies:\n  vite:\n    specifier: ^5.0.8\n    version: 5.0.10\n",
        "index.html": "<div id=root></div>",
        "src/main.jsx": "import React from 'react'\nconst api = import.meta.env.VITE_API_URL\n",
    },
    apps={
        ".": {
            "framework": "vite",
            "framework_version": "5.0.10",
            "package_manager": "pnpm",
            "kind": "static",
            "static_output_dir": "dist",
            "build_command": "pnpm run build",
            "install_command": "pnpm install --frozen-lockfile",
            "port": None,
        }
    },
    env={"VITE_API_URL": (False, None)},
)
case(
    "create_react_app",
    {
        "package.json": pkg(
            "cra",
            {"react": "^18", "react-scripts": "5.0.1"},
            scripts={
                "start": "react-scripts start",
                "build": "react-scripts build",
                "test": "react-scripts test",
            },
        ),
        "src/App.js": "export default function App() { return null }\n",
    },
    apps={
        ".": {
            "framework": "create-react-app",
            "framework_version": "5.0.1",
            "kind": "static",
            "static_output_dir": "build",
            "start_command": None,
        }
    },
    tests="npm test",
)
case(
    "nestjs_env_port_nullish",
    {
        "package.json": pkg(
            "api",
            {"@nestjs/core": "^10.3.0", "@nestjs/common": "^10.3.0", "pg": "^8.11"},
            dev={"typescript": "^5"},
            scripts={"build": "nest build", "start": "nest start", "start:prod": "node dist/main"},
        ),
        "tsconfig.json": "{}",
        "src/main.ts": (
            "import { NestFactory } from '@nestjs/core';\nasync function bootstrap() {\n"
            "  const app = await NestFactory.create(AppModule);\n  await app.listen(process.env.PORT ?? 3001);\n}\n"
        ),
        "src/app.controller.spec.ts": "describe('x', () => {})\n",
    },
    apps={
        ".": {
            "framework": "nestjs",
            "framework_version": "10.3.0",
            "language": "typescript",
            "port": 3001,
            "port_source": "code",
            "port_env": "PORT",
            "start_command": "npm run start:prod",
        }
    },
    services={"postgres": None},
)
case(
    "fastify_with_bullmq_worker",
    {
        "package.json": pkg(
            "jobs", {"fastify": "^4.25.0", "bullmq": "^5.1.0"}, scripts={"start": "node server.js"}
        ),
        "server.js": "const fastify = require('fastify')()\nfastify.listen({ port: 8080, host: '0.0.0.0' })\n",
        "worker.js": "const { Worker } = require('bullmq')\nnew Worker('emails', async job => {}, { connection: { host: process.env.REDIS_HOST } })\n",
    },
    apps={".": {"framework": "fastify", "port": 8080, "port_source": "code"}},
    services={"redis": None},
    workers={("worker", "bullmq")},
    env={"REDIS_HOST": (False, None)},
)
case(
    "sveltekit_node_adapter",
    {
        "package.json": pkg(
            "kit",
            dev={"@sveltejs/kit": "^2.0.0", "@sveltejs/adapter-node": "^2", "vite": "^5"},
            scripts={"build": "vite build"},
        ),
        "svelte.config.js": "import adapter from '@sveltejs/adapter-node';\n",
        "src/routes/+page.svelte": "<h1>hi</h1>\n",
    },
    apps={
        ".": {
            "framework": "sveltekit",
            "kind": "web",
            "start_command": "node build",
            "port": 3000,
            "port_source": "framework_default",
        }
    },
)
case(
    "astro_static_site",
    {
        "package.json": pkg(
            "blog", {"astro": "^4.3.0"}, scripts={"build": "astro build", "dev": "astro dev"}
        ),
        "astro.config.mjs": "import { defineConfig } from 'astro/config';\nexport default defineConfig({});\n",
        "src/pages/index.astro": "---\n---\n<h1>Hi</h1>\n",
    },
    apps={".": {"framework": "astro", "kind": "static", "static_output_dir": "dist", "port": None}},
)
case(
    "node_http_no_framework",
    {
        "package.json": pkg("tiny", scripts={"start": "node index.js"}),
        "index.js": "const http = require('http')\nhttp.createServer((req, res) => res.end('ok')).listen(process.env.PORT || 8080)\n",
    },
    apps={
        ".": {
            "framework": None,
            "kind": "web",
            "port": 8080,
            "port_source": "code",
            "port_env": "PORT",
            "start_command": "npm start",
        }
    },
)
case(
    "misleading_php_in_node_modules",
    {
        "package.json": pkg("web", {"koa": "^2.15.0"}, scripts={"start": "node app.js"}),
        "app.js": "const Koa = require('koa')\nconst app = new Koa()\napp.listen(process.env.PORT || 3000)\n",
        "node_modules/legacy/index.php": "<?php echo 'hi'; ?>\n",
        "node_modules/legacy/composer.json": '{"require": {"laravel/framework": "^10"}}',
        "vendor/lib/helper.php": "<?php\n",
    },
    apps={".": {"framework": "koa", "port": 3000, "port_source": "code"}},
    languages_absent=["php"],
)
case(
    "dockerfile_expose_disagrees",
    {
        "package.json": pkg("api", {"express": "^4.19.0"}, scripts={"start": "node index.js"}),
        "index.js": "const express = require('express')\nconst app = express()\napp.listen(3000)\n",
        "Dockerfile": 'FROM node:20-alpine\nWORKDIR /app\nCOPY . .\nEXPOSE 8080\nCMD ["node", "index.js"]\n',
    },
    apps={".": {"port": 3000, "port_source": "code", "port_env": None}},
    existing={"dockerfile"},
    warnings=[
        "Dockerfile EXPOSE 8080 (Dockerfile:4) disagrees with port 3000",
        "port 3000 hard-coded",
    ],
)
case(
    "hono_on_node",
    {
        "package.json": pkg(
            "edge",
            {"hono": "^4.0.0", "@hono/node-server": "^1.8.0"},
            scripts={"start": "tsx src/index.ts"},
        ),
        "src/index.ts": "import { serve } from '@hono/node-server'\nimport { Hono } from 'hono'\nconst app = new Hono()\nserve({ fetch: app.fetch, port: 8787 })\n",
    },
    apps={
        ".": {"framework": "hono", "port": 8787, "port_source": "code", "language": "typescript"}
    },
)
case(
    "eleventy_site",
    {
        "package.json": pkg(
            "notes", dev={"@11ty/eleventy": "^2.0.1"}, scripts={"build": "eleventy"}
        ),
        "index.md": "# hi\n",
    },
    apps={".": {"framework": "eleventy", "kind": "static", "static_output_dir": "_site"}},
)
# --- Go ---------------------------------------------------------------------------------
case(
    "go_gin_postgres",
    {
        "go.mod": "module github.com/acme/api\n\ngo 1.22\n\nrequire (\n\tgithub.com/gin-gonic/gin v1.9.1\n\tgithub.com/lib/pq v1.10.9\n)\n",
        "main.go": 'package main\n\nimport "github.com/gin-gonic/gin"\n\nfunc main() {\n\tr := gin.Default()\n\tr.GET("/ping", nil)\n\tr.Run(":8081")\n}\n',
        "main_test.go": "package main\n",
    },
    apps={
        ".": {
            "name": "api",
            "language": "go",
            "framework": "gin",
            "framework_version": "1.9.1",
            "runtime_version": "1.22",
            "package_manager": "go modules",
            "port": 8081,
            "port_source": "code",
            "build_command": "CGO_ENABLED=0 go build -o app .",
            "start_command": "./app",
            "healthcheck_path": "/ping",
        }
    },
    # lib/pq is required in go.mod but never imported: not provisioned
    services={},
    possible={"postgres"},
    tests="go test ./...",
)
case(
    "go_nethttp_env_default",
    {
        "go.mod": "module example.com/hello\n\ngo 1.21\n",
        "cmd/server/main.go": (
            'package main\n\nimport (\n\t"net/http"\n\t"os"\n)\n\nfunc main() {\n\tport := os.Getenv("PORT")\n'
            '\tif port == "" {\n\t\tport = "9000"\n\t}\n\thttp.ListenAndServe(":"+port, nil)\n}\n'
        ),
    },
    apps={
        ".": {
            "framework": "net-http",
            "port": 9000,
            "port_source": "code",
            "port_env": "PORT",
            "build_command": "CGO_ENABLED=0 go build -o app ./cmd/server",
        }
    },
)
case(
    "go_echo",
    {
        "go.mod": "module x/echoapp\n\ngo 1.22\n\nrequire github.com/labstack/echo/v4 v4.11.4\n",
        "main.go": 'package main\n\nimport "github.com/labstack/echo/v4"\n\nfunc main() {\n\te := echo.New()\n\te.Logger.Fatal(e.Start(":1323"))\n}\n',
    },
    apps={
        ".": {
            "framework": "echo",
            "framework_version": "4.11.4",
            "port": 1323,
            "port_source": "code",
        }
    },
)
# --- JVM ----------------------------------------------------------------------------------
case(
    "spring_boot_maven",
    {
        "pom.xml": (
            "<project>\n  <parent>\n    <groupId>org.springframework.boot</groupId>\n"
            "    <artifactId>spring-boot-starter-parent</artifactId>\n    <version>3.2.1</version>\n  </parent>\n"
            "  <artifactId>inventory</artifactId>\n  <properties>\n    <java.version>17</java.version>\n  </properties>\n"
            "  <dependencies>\n    <dependency>\n      <groupId>org.springframework.boot</groupId>\n"
            "      <artifactId>spring-boot-starter-web</artifactId>\n    </dependency>\n    <dependency>\n"
            "      <groupId>org.springframework.boot</groupId>\n      <artifactId>spring-boot-starter-actuator</artifactId>\n"
            "    </dependency>\n    <dependency>\n      <groupId>org.postgresql</groupId>\n"
            "      <artifactId>postgresql</artifactId>\n    </dependency>\n  </dependencies>\n</project>\n"
        ),
        "mvnw": "#!/bin/sh\n",
        "src/main/java/com/acme/App.java": "package com.acme;\n@SpringBootApplication\npublic class App { public static void main(String[] a) {} }\n",
        "src/main/resources/application.properties": "server.port=${PORT:8081}\nspring.datasource.url=jdbc:postgresql://${DB_HOST:localhost}/inv\n",
        "src/test/java/com/acme/AppTest.java": "class AppTest {}\n",
    },
    apps={
        ".": {
            "name": "inventory",
            "language": "java",
            "framework": "spring-boot",
            "framework_version": "3.2.1",
            "runtime_version": "17",
            "package_manager": "maven",
            "port": 8081,
            "port_source": "config",
            "port_env": "PORT",
            "healthcheck_path": "/actuator/health",
            "build_command": "./mvnw -B package -DskipTests",
            "start_command": "java -jar target/*.jar",
        }
    },
    services={"postgres": None},
    env={"DB_HOST": (False, "localhost"), "PORT": (False, "8081")},
    tests="./mvnw test",
)
case(
    "ktor_gradle_kts",
    {
        "build.gradle.kts": (
            'plugins {\n    kotlin("jvm") version "1.9.22"\n    id("io.ktor.plugin") version "2.3.7"\n}\n'
            'dependencies {\n    implementation("io.ktor:ktor-server-netty:2.3.7")\n}\nkotlin {\n    jvmToolchain(21)\n}\n'
        ),
        "gradlew": "#!/bin/sh\n",
        "src/main/kotlin/Application.kt": "fun main() {\n    embeddedServer(Netty, port = 8090) {}.start(wait = true)\n}\n",
    },
    apps={
        ".": {
            "language": "kotlin",
            "framework": "ktor",
            "framework_version": "2.3.7",
            "runtime_version": "21",
            "package_manager": "gradle",
            "port": 8090,
            "port_source": "code",
            "build_command": "./gradlew buildFatJar",
        }
    },
)
# --- Ruby ---------------------------------------------------------------------------------
case(
    "rails_postgres_sidekiq",
    {
        "Gemfile": "source 'https://rubygems.org'\nruby '3.3.0'\ngem 'rails', '~> 7.1.0'\ngem 'pg'\ngem 'sidekiq', '~> 7.2'\ngem 'puma'\n",
        "Gemfile.lock": "GEM\n  specs:\n    rails (7.1.3)\n    pg (1.5.4)\n    sidekiq (7.2.1)\n\nRUBY VERSION\n   ruby 3.3.0p0\n",
        "config.ru": "require_relative 'config/environment'\nrun Rails.application\n",
        "config/database.yml": "default: &default\n  adapter: postgresql\n  url: <%= ENV['DATABASE_URL'] %>\n",
        "config/routes.rb": 'Rails.application.routes.draw do\n  get "up" => "rails/health#show", as: :rails_health_check\nend\n',
        "config/puma.rb": 'port ENV.fetch("PORT") { 3000 }\n',
        "app/models/user.rb": "class User < ApplicationRecord\nend\n",
        "spec/models/user_spec.rb": "RSpec.describe User do\nend\n",
    },
    apps={
        ".": {
            "language": "ruby",
            "framework": "rails",
            "framework_version": "7.1.3",
            "runtime_version": "3.3.0",
            "package_manager": "bundler",
            "port": 3000,
            "port_source": "code",
            "port_env": "PORT",
            "healthcheck_path": "/up",
            "start_command": "bundle exec rails server -b 0.0.0.0 -p 3000",
        }
    },
    services={"postgres": None, "redis": None},
    workers={("sidekiq", "sidekiq")},
    env={"DATABASE_URL": (True, None)},
    tests="bundle exec rspec",
)
case(
    "sinatra_env_fetch_port",
    {
        "Gemfile": "source 'https://rubygems.org'\ngem 'sinatra', '4.0.0'\n",
        ".ruby-version": "3.2.2\n",
        "app.rb": "require 'sinatra'\nset :bind, '0.0.0.0'\nset :port, ENV.fetch('PORT') { 4567 }\nget('/') { 'hi' }\n",
    },
    apps={
        ".": {
            "framework": "sinatra",
            "framework_version": "4.0.0",
            "runtime_version": "3.2.2",
            "port": 4567,
            "port_source": "code",
            "port_env": "PORT",
            "start_command": "bundle exec ruby app.rb",
        }
    },
)
case(
    "jekyll_blog",
    {
        "Gemfile": "source 'https://rubygems.org'\ngem 'jekyll', '~> 4.3'\n",
        "_config.yml": "title: Blog\n",
        "_posts/2024-01-01-hello.md": "---\ntitle: hi\n---\n",
        "index.md": "# Blog\n",
    },
    apps={
        ".": {
            "framework": "jekyll",
            "kind": "static",
            "static_output_dir": "_site",
            "build_command": "bundle exec jekyll build",
        }
    },
)
# --- PHP --------------------------------------------------------------------------------------
case(
    "laravel_mysql_queue",
    {
        "composer.json": json.dumps({"require": {"php": "^8.1", "laravel/framework": "^10.10"}}),
        "composer.lock": json.dumps(
            {"packages": [{"name": "laravel/framework", "version": "v10.48.4"}]}
        ),
        "artisan": "#!/usr/bin/env php\n<?php\n",
        "public/index.php": "<?php\n",
        "config/database.php": "<?php\nreturn ['default' => env('DB_CONNECTION', 'mysql'), 'password' => env('DB_PASSWORD')];\n",
        ".env.example": "APP_KEY=\nDB_CONNECTION=mysql\nDB_PASSWORD=\nQUEUE_CONNECTION=redis\nREDIS_HOST=127.0.0.1\n",
        "tests/Feature/ExampleTest.php": "<?php\n",
        "phpunit.xml": "<phpunit/>\n",
    },
    apps={
        ".": {
            "language": "php",
            "framework": "laravel",
            "framework_version": "10.48.4",
            "runtime_version": "8.1",
            "package_manager": "composer",
            "port": 8000,
            "port_source": "framework_default",
            "start_command": "php artisan serve --host=0.0.0.0 --port=8000",
        }
    },
    services={"mysql": None, "redis": None},
    workers={("queue", "laravel-queue")},
    env={"DB_CONNECTION": (False, "mysql"), "DB_PASSWORD": (True, None), "APP_KEY": (True, None)},
    tests="php artisan test",
    secrets=set(),
)
case(
    "plain_php_site",
    {
        "index.php": "<?php\n$pass = getenv('DB_PASSWORD');\necho 'hello';\n",
        "about.php": "<?php echo 1;\n",
    },
    apps={
        ".": {
            "language": "php",
            "framework": "php",
            "package_manager": None,
            "port": 8080,
            "port_source": "framework_default",
            "start_command": "php -S 0.0.0.0:8080 -t .",
        }
    },
    env={"DB_PASSWORD": (True, None)},
)
case(
    "symfony_app",
    {
        "composer.json": json.dumps(
            {
                "require": {
                    "php": ">=8.2",
                    "symfony/framework-bundle": "7.0.*",
                    "symfony/runtime": "7.0.*",
                }
            }
        ),
        "public/index.php": "<?php\n",
        "src/Kernel.php": "<?php\n",
    },
    apps={
        ".": {
            "framework": "symfony",
            "runtime_version": "8.2",
            "start_command": "php -S 0.0.0.0:8000 -t public",
        }
    },
)
# --- Rust ---------------------------------------------------------------------------------------
case(
    "rust_axum_sqlx",
    {
        "Cargo.toml": (
            '[package]\nname = "todo"\nversion = "0.1.0"\nedition = "2021"\nrust-version = "1.75"\n\n[dependencies]\n'
            'axum = "0.7"\ntokio = { version = "1", features = ["full"] }\n'
            'sqlx = { version = "0.7", features = ["runtime-tokio", "postgres"] }\n'
        ),
        "Cargo.lock": '[[package]]\nname = "axum"\nversion = "0.7.4"\n',
        "src/main.rs": (
            '#[tokio::main]\nasync fn main() {\n    let db = std::env::var("DATABASE_URL").unwrap();\n'
            '    let listener = tokio::net::TcpListener::bind("0.0.0.0:3000").await.unwrap();\n}\n'
        ),
    },
    apps={
        ".": {
            "name": "todo",
            "language": "rust",
            "framework": "axum",
            "framework_version": "0.7.4",
            "runtime_version": "1.75",
            "package_manager": "cargo",
            "port": 3000,
            "port_source": "code",
            "start_command": "./target/release/todo",
            "build_command": "cargo build --release",
        }
    },
    services={"postgres": None},
    env={"DATABASE_URL": (True, None)},
)
case(
    "rust_actix_tuple_bind",
    {
        "Cargo.toml": '[package]\nname = "hello"\nversion = "0.1.0"\n\n[dependencies]\nactix-web = "4"\n',
        "src/main.rs": 'use actix_web::{App, HttpServer};\n#[actix_web::main]\nasync fn main() {\n    HttpServer::new(|| App::new()).bind(("0.0.0.0", 8088)).unwrap().run().await;\n}\n',
    },
    apps={
        ".": {
            "framework": "actix-web",
            "framework_version": "4",
            "port": 8088,
            "port_source": "code",
        }
    },
)
# --- .NET -----------------------------------------------------------------------------------------
case(
    "aspnet_core_dockerfile_urls",
    {
        "Api/Api.csproj": (
            '<Project Sdk="Microsoft.NET.Sdk.Web">\n  <PropertyGroup>\n    <TargetFramework>net8.0</TargetFramework>\n'
            '  </PropertyGroup>\n  <ItemGroup>\n    <PackageReference Include="Npgsql.EntityFrameworkCore.PostgreSQL" Version="8.0.0" />\n'
            "  </ItemGroup>\n</Project>\n"
        ),
        "Api/Program.cs": 'var builder = WebApplication.CreateBuilder(args);\nvar app = builder.Build();\napp.MapGet("/healthz", () => "ok");\nvar key = Environment.GetEnvironmentVariable("API_KEY");\napp.Run();\n',
        "Api/Dockerfile": "FROM mcr.microsoft.com/dotnet/aspnet:8.0\nENV ASPNETCORE_URLS=http://+:5000\nEXPOSE 5000\n",
        "Api.Tests/Api.Tests.csproj": '<Project Sdk="Microsoft.NET.Sdk">\n  <ItemGroup>\n    <PackageReference Include="xunit" Version="2.6.0" />\n  </ItemGroup>\n</Project>\n',
    },
    apps={
        "Api": {
            "name": "Api",
            "language": "csharp",
            "framework": "aspnetcore",
            "framework_version": "8.0",
            "runtime_version": "8.0",
            "package_manager": "dotnet",
            "port": 5000,
            "port_source": "dockerfile",
            "port_env": "ASPNETCORE_URLS",
            "healthcheck_path": "/healthz",
            "start_command": "dotnet out/Api.dll",
        }
    },
    services={"postgres": None},
    env={"API_KEY": (True, None)},
    existing={"dockerfile"},
    tests="(cd Api && dotnet test ../Api.Tests/Api.Tests.csproj)",
)
# --- Static sites -------------------------------------------------------------------------------------
case(
    "hugo_site",
    {
        "hugo.toml": "baseURL = 'https://example.org/'\ntitle = 'Site'\n",
        "content/_index.md": "# Home\n",
        "layouts/index.html": "<html></html>\n",
    },
    apps={
        ".": {
            "framework": "hugo",
            "kind": "static",
            "static_output_dir": "public",
            "build_command": "hugo --minify",
        }
    },
)
case(
    "mkdocs_site",
    {
        "mkdocs.yml": "site_name: Docs\n",
        "docs/index.md": "# Docs\n",
        "requirements.txt": "mkdocs==1.5.3\n",
    },
    apps={
        ".": {
            "framework": "mkdocs",
            "kind": "static",
            "static_output_dir": "site",
            "build_command": "mkdocs build",
        }
    },
)
case(
    "plain_html",
    {
        "index.html": "<!doctype html><title>x</title>\n",
        "css/site.css": "body{}\n",
        "js/app.js": "console.log(1)\n",
    },
    apps={".": {"framework": "html", "kind": "static", "static_output_dir": ".", "port": None}},
)
# --- Monorepos and multi-app repositories ----------------------------------------------------------------
case(
    "turbo_monorepo",
    {
        "package.json": pkg("mono", dev={"turbo": "^1.12"}, workspaces=["apps/*", "packages/*"]),
        "package-lock.json": json.dumps(
            {
                "lockfileVersion": 3,
                "packages": {
                    "node_modules/next": {"version": "14.0.4"},
                    "node_modules/express": {"version": "4.18.2"},
                },
            }
        ),
        "turbo.json": "{}",
        "apps/web/package.json": pkg(
            "web", {"next": "^14.0.0"}, scripts={"build": "next build", "start": "next start"}
        ),
        "apps/web/pages/index.js": "export default () => null\n",
        "apps/api/package.json": pkg(
            "api", {"express": "^4.18.0"}, scripts={"start": "node src/index.js"}
        ),
        "apps/api/src/index.js": "const app = require('express')()\napp.listen(process.env.PORT || 4000)\n",
        "packages/ui/package.json": pkg("ui", {"react": "^18"}),
        "packages/ui/index.js": "export const Button = () => null\n",
    },
    apps={
        "apps/web": {
            "framework": "nextjs",
            "framework_version": "14.0.4",
            "port": 3000,
            "kind": "web",
        },
        "apps/api": {
            "framework": "express",
            "framework_version": "4.18.2",
            "port": 4000,
            "port_env": "PORT",
            "start_command": "npm start",
        },
    },
)
case(
    "compose_backend_frontend",
    {
        "docker-compose.yml": (
            'services:\n  api:\n    build: ./backend\n    ports:\n      - "8000:8000"\n'
            "  web:\n    build: ./frontend\n  db:\n    image: postgres:16-alpine\n"
            "  cache:\n    image: redis:7.2\n  worker:\n    build: ./backend\n    command: celery -A app.tasks worker\n"
        ),
        "backend/requirements.txt": "fastapi==0.109.0\nuvicorn\nsqlalchemy\npsycopg[binary]\ncelery\n",
        "backend/app/main.py": "from fastapi import FastAPI\napp = FastAPI()\n",
        "backend/app/tasks.py": "from celery import Celery\ncelery_app = Celery('tasks')\n",
        "backend/Dockerfile": "FROM python:3.12-slim\nEXPOSE 8000\nCMD uvicorn app.main:app --host 0.0.0.0\n",
        "frontend/package.json": pkg(
            "front", {"react": "^18"}, dev={"vite": "^5.1.0"}, scripts={"build": "vite build"}
        ),
        "frontend/src/main.tsx": "export {}\n",
    },
    apps={
        "backend": {
            "framework": "fastapi",
            "framework_version": "0.109.0",
            "port": 8000,
            "kind": "web",
            "start_command": "uvicorn app.main:app --host 0.0.0.0 --port 8000",
        },
        "frontend": {"framework": "vite", "kind": "static", "static_output_dir": "dist"},
    },
    services={"postgres": "16", "redis": "7.2"},
    workers={("worker", "celery")},
    existing={"compose", "dockerfile"},
)
case(
    "compose_build_without_manifest",
    {
        "docker-compose.yml": "services:\n  bot:\n    build: ./bot\n",
        "bot/Dockerfile": 'FROM python:3.12\nCMD ["python", "bot.py"]\n',
        "bot/bot.py": "import os\nTOKEN = os.environ['BOT_TOKEN']\n\nif __name__ == '__main__':\n    print(TOKEN)\n",
    },
    apps={
        "bot": {
            "language": "python",
            "framework": None,
            "kind": "cli",
            "start_command": "python bot.py",
        }
    },
    env={"BOT_TOKEN": (True, None)},
)
# --- Secrets ------------------------------------------------------------------------------------------
case(
    "committed_secrets",
    {
        "requirements.txt": "flask\n",
        "app.py": (
            "from flask import Flask\napp = Flask(__name__)\n"
            "GITHUB_TOKEN = 'ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8" + "'\n"
            "STRIPE = 'sk_live_" + "51Habcdefghijklmnopqrstu" + "'\n"
            "DB = 'postgresql://admin:S3cr3tPassw0rd!@db.internal:5432/app'\n"
            "API_SECRET = 'q8Zr-4Lm9Xv2Tp7Kw3Nj'\n"
            "PLACEHOLDER_TOKEN = 'your-token-here'\n"
            "LOCAL = 'postgres://postgres:postgres@localhost/dev'\n"
            "EXAMPLE_KEY = 'AKIAIOSFODNN7EXAMPLE'\n"
        ),
        "deploy/id_rsa": "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----\n",
        ".env.example": "SECRET_KEY=changeme\nAPI_TOKEN=xxx\nSTRIPE_KEY=sk_test_your_key_here\n",
        "config/settings.yml": "password: hunter2hunter2\nslack_token: xoxb-"
        + "1234567890-abcdefghij"
        + "\n",
    },
    secrets={
        "github_token",
        "stripe_secret_key",
        "password_in_url",
        "generic_secret",
        "private_key",
        "slack_token",
    },
    warnings=["committed secret(s) found"],
)

# --- Second batch: the rest of the framework list and port sources ------------------------------
case(
    "quarkus_maven_bom",
    {
        "pom.xml": (
            "<project>\n  <artifactId>quarkus-svc</artifactId>\n  <properties>\n    <quarkus.platform.version>3.6.4</quarkus.platform.version>\n"
            "    <maven.compiler.release>21</maven.compiler.release>\n  </properties>\n  <dependencyManagement>\n    <dependencies>\n"
            "      <dependency>\n        <groupId>io.quarkus.platform</groupId>\n        <artifactId>quarkus-bom</artifactId>\n"
            "        <version>${quarkus.platform.version}</version>\n      </dependency>\n    </dependencies>\n  </dependencyManagement>\n"
            "  <dependencies>\n    <dependency>\n      <groupId>io.quarkus</groupId>\n      <artifactId>quarkus-resteasy-reactive</artifactId>\n"
            "    </dependency>\n  </dependencies>\n</project>\n"
        ),
        "src/main/resources/application.properties": "quarkus.http.port=8085\n",
        "src/main/java/org/acme/Greeting.java": "package org.acme;\npublic class Greeting {}\n",
    },
    apps={
        ".": {
            "name": "quarkus-svc",
            "framework": "quarkus",
            "framework_version": "3.6.4",
            "runtime_version": "21",
            "port": 8085,
            "port_source": "config",
            "start_command": "java -jar target/quarkus-app/quarkus-run.jar",
        }
    },
)
case(
    "micronaut_gradle_yaml_port",
    {
        "build.gradle": 'plugins {\n    id("io.micronaut.application") version "4.2.1"\n}\njava {\n    sourceCompatibility = JavaVersion.toVersion("17")\n}\n',
        "gradle.properties": "micronautVersion=4.2.3\n",
        "src/main/resources/application.yml": "micronaut:\n  application:\n    name: demo\n  server:\n    port: 8082\n",
        "src/main/java/demo/Application.java": "package demo;\npublic class Application { public static void main(String[] a) {} }\n",
    },
    apps={
        ".": {
            "framework": "micronaut",
            "framework_version": "4.2.1",
            "package_manager": "gradle",
            "port": 8082,
            "port_source": "config",
            "build_command": "gradle build -x test",
        }
    },
)
case(
    "remix_app",
    {
        "package.json": pkg(
            "remix",
            {
                "@remix-run/node": "^2.5.0",
                "@remix-run/react": "^2.5.0",
                "@remix-run/serve": "^2.5.0",
            },
            scripts={"build": "remix build", "start": "remix-serve ./build/index.js"},
        ),
        "app/root.tsx": "export default function App() { return null }\n",
    },
    apps={
        ".": {
            "framework": "remix",
            "framework_version": "2.5.0",
            "kind": "web",
            "port": 3000,
            "port_source": "framework_default",
            "start_command": "npm start",
            "build_command": "npm run build",
        }
    },
)
case(
    "react_router_7",
    {
        "package.json": pkg(
            "rr",
            {"@react-router/node": "^7.1.0", "react-router": "^7.1.0"},
            dev={"@react-router/dev": "^7.1.0"},
            scripts={
                "build": "react-router build",
                "start": "react-router-serve ./build/server/index.js",
            },
        ),
        "app/root.tsx": "export default function Root() { return null }\n",
    },
    apps={
        ".": {
            "framework": "react-router",
            "framework_version": "7.1.0",
            "kind": "web",
            "start_command": "npm start",
        }
    },
)
case(
    "nuxt_generate_static",
    {
        "package.json": pkg(
            "n", {"nuxt": "^3.10.0"}, scripts={"build": "nuxt generate", "dev": "nuxt dev"}
        ),
        "nuxt.config.ts": "export default defineNuxtConfig({})\n",
        "pages/index.vue": "<template><div/></template>\n",
    },
    apps={".": {"framework": "nuxt", "kind": "static", "static_output_dir": ".output/public"}},
)
case(
    "nuxt_server",
    {
        "package.json": pkg(
            "n", {"nuxt": "^3.10.0"}, scripts={"build": "nuxt build", "dev": "nuxt dev"}
        ),
        "app.vue": "<template><div/></template>\n",
    },
    apps={
        ".": {
            "framework": "nuxt",
            "kind": "web",
            "start_command": "node .output/server/index.mjs",
            "port": 3000,
        }
    },
)
case(
    "angular_application_builder",
    {
        "package.json": pkg(
            "shop", {"@angular/core": "^17.1.0"}, scripts={"start": "ng serve", "build": "ng build"}
        ),
        "angular.json": json.dumps(
            {
                "projects": {
                    "shop": {
                        "architect": {
                            "build": {
                                "builder": "@angular-devkit/build-angular:application",
                                "options": {"outputPath": "dist/shop"},
                            }
                        }
                    }
                }
            }
        ),
        "src/main.ts": "bootstrapApplication(AppComponent)\n",
    },
    apps={
        ".": {
            "framework": "angular",
            "framework_version": "17.1.0",
            "kind": "static",
            "static_output_dir": "dist/shop/browser",
            "start_command": None,
        }
    },
)
case(
    "gatsby_site",
    {
        "package.json": pkg(
            "g",
            {"gatsby": "^5.13.0", "react": "^18"},
            scripts={"build": "gatsby build", "develop": "gatsby develop"},
        ),
        "src/pages/index.js": "export default () => null\n",
    },
    apps={".": {"framework": "gatsby", "kind": "static", "static_output_dir": "public"}},
)
case(
    "docusaurus_docs",
    {
        "package.json": pkg(
            "docs",
            {"@docusaurus/core": "3.1.0"},
            scripts={"build": "docusaurus build", "start": "docusaurus start"},
        ),
        "docs/intro.md": "# Intro\n",
    },
    apps={
        ".": {
            "framework": "docusaurus",
            "framework_version": "3.1.0",
            "kind": "static",
            "static_output_dir": "build",
            "start_command": None,
        }
    },
)
case(
    "adonisjs_default_port",
    {
        "package.json": pkg(
            "adonis", {"@adonisjs/core": "^6.2.0"}, scripts={"start": "node bin/server.js"}
        ),
        "start/routes.ts": "router.get('/', async () => 'hi')\n",
    },
    apps={".": {"framework": "adonisjs", "port": 3333, "port_source": "framework_default"}},
)
case(
    "hapi_server_port",
    {
        "package.json": pkg("h", {"@hapi/hapi": "^21.3.2"}, scripts={"start": "node index.js"}),
        "index.js": "const Hapi = require('@hapi/hapi')\nconst server = Hapi.server({ port: 3100, host: '0.0.0.0' })\nserver.start()\n",
    },
    apps={
        ".": {
            "framework": "hapi",
            "framework_version": "21.3.2",
            "port": 3100,
            "port_source": "code",
        }
    },
)
case(
    "go_fiber",
    {
        "go.mod": "module x/f\n\ngo 1.21\n\nrequire github.com/gofiber/fiber/v2 v2.52.0\n",
        "main.go": 'package main\n\nimport "github.com/gofiber/fiber/v2"\n\nfunc main() {\n\tapp := fiber.New()\n\tapp.Listen(":3000")\n}\n',
    },
    apps={
        ".": {
            "framework": "fiber",
            "framework_version": "2.52.0",
            "port": 3000,
            "port_source": "code",
        }
    },
)
case(
    "go_chi_env",
    {
        "go.mod": "module x/c\n\ngo 1.22\n\nrequire (\n\tgithub.com/go-chi/chi/v5 v5.0.11\n\tgithub.com/redis/go-redis/v9 v9.4.0\n)\n",
        "main.go": (
            'package main\n\nimport (\n\t"net/http"\n\t"os"\n\n\t"github.com/go-chi/chi/v5"\n)\n\nfunc main() {\n'
            '\tr := chi.NewRouter()\n\tr.Get("/healthz", nil)\n\tport, ok := os.LookupEnv("PORT")\n\tif !ok {\n\t\tport = "8080"\n\t}\n'
            '\thttp.ListenAndServe(":"+port, r)\n}\n'
        ),
    },
    apps={
        ".": {
            "framework": "chi",
            "framework_version": "5.0.11",
            "port": 8080,
            "port_source": "code",
            "port_env": "PORT",
            "healthcheck_path": "/healthz",
        }
    },
    # go-redis is required in go.mod but no package imports it: not provisioned
    services={},
    possible={"redis"},
)
case(
    "go_gorilla_server_addr",
    {
        "go.mod": "module x/g\n\ngo 1.20\n\nrequire github.com/gorilla/mux v1.8.1\n",
        "main.go": 'package main\n\nfunc main() {\n\tr := mux.NewRouter()\n\tsrv := &http.Server{Handler: r, Addr: "0.0.0.0:8000"}\n\tsrv.ListenAndServe()\n}\n',
    },
    apps={
        ".": {
            "framework": "gorilla-mux",
            "framework_version": "1.8.1",
            "port": 8000,
            "port_source": "code",
        }
    },
)
case(
    "rust_rocket_toml",
    {
        "Cargo.toml": '[package]\nname = "rk"\nversion = "0.1.0"\n\n[dependencies]\nrocket = { version = "0.5.0", features = ["json"] }\n',
        "Rocket.toml": '[default]\naddress = "0.0.0.0"\nport = 8001\n',
        "src/main.rs": "#[launch]\nfn rocket() -> _ { rocket::build() }\n",
    },
    apps={
        ".": {
            "framework": "rocket",
            "framework_version": "0.5.0",
            "port": 8001,
            "port_source": "config",
        }
    },
)
case(
    "rust_warp",
    {
        "Cargo.toml": '[package]\nname = "w"\nversion = "0.1.0"\n\n[dependencies]\nwarp = "0.3"\n',
        "src/main.rs": "#[tokio::main]\nasync fn main() {\n    warp::serve(routes).run(([127, 0, 0, 1], 3030)).await;\n}\n",
    },
    apps={".": {"framework": "warp", "port": 3030, "port_source": "code"}},
)
case(
    "tornado_listen",
    {
        "requirements.txt": "tornado==6.4\n",
        "server.py": "import tornado.web\n\napp = tornado.web.Application([])\napp.listen(8888)\n",
    },
    apps={
        ".": {
            "framework": "tornado",
            "framework_version": "6.4",
            "port": 8888,
            "port_source": "code",
        }
    },
)
case(
    "sanic_run",
    {
        "requirements.txt": "sanic==23.12.1\n",
        "main.py": "from sanic import Sanic\n\napp = Sanic('api')\n\nif __name__ == '__main__':\n    app.run(host='0.0.0.0', port=8000)\n",
    },
    apps={
        ".": {
            "framework": "sanic",
            "port": 8000,
            "port_source": "code",
            "start_command": "sanic main:app --host 0.0.0.0 --port 8000",
        }
    },
)
case(
    "litestar_app",
    {
        "requirements.txt": "litestar==2.5.0\nuvicorn\n",
        "app.py": "from litestar import Litestar, get\n\n@get('/')\nasync def index() -> str:\n    return 'hi'\n\napp = Litestar(route_handlers=[index])\n",
    },
    apps={
        ".": {
            "framework": "litestar",
            "framework_version": "2.5.0",
            "port": 8000,
            "start_command": "uvicorn app:app --host 0.0.0.0 --port 8000",
        }
    },
)
case(
    "starlette_app",
    {
        "requirements.txt": "starlette==0.36.3\nuvicorn\n",
        "main.py": "from starlette.applications import Starlette\n\napp = Starlette(routes=[])\n",
    },
    apps={
        ".": {
            "framework": "starlette",
            "framework_version": "0.36.3",
            "start_command": "uvicorn main:app --host 0.0.0.0 --port 8000",
        }
    },
)
case(
    "rack_config_ru",
    {
        "Gemfile": "source 'https://rubygems.org'\ngem 'rack', '~> 3.0'\n",
        "config.ru": "run ->(env) { [200, {}, ['ok']] }\n",
    },
    apps={
        ".": {
            "framework": "rack",
            "port": 9292,
            "port_source": "framework_default",
            "start_command": "bundle exec rackup config.ru -o 0.0.0.0 -p 9292",
        }
    },
)
case(
    "slim_php",
    {
        "composer.json": json.dumps(
            {"require": {"php": "^8.1", "slim/slim": "^4.12", "predis/predis": "^2.2"}}
        ),
        "public/index.php": "<?php\n$app = AppFactory::create();\n$app->run();\n",
    },
    apps={
        ".": {
            "framework": "slim",
            "framework_version": "4.12",
            "start_command": "php -S 0.0.0.0:8080 -t public",
        }
    },
    services={"redis": None},
)
case(
    "celery_worker_only",
    {
        "requirements.txt": "celery[redis]==5.3.6\nredis==5.0.1\n",
        "tasks.py": "from celery import Celery\n\ncelery = Celery('tasks', broker='redis://localhost')\n",
    },
    apps={
        ".": {
            "framework": None,
            "kind": "worker",
            "start_command": "celery -A tasks.celery worker --loglevel=info",
        }
    },
    workers=set(),  # the app itself is the worker: not listed twice
    services={"redis": None},
)
case(
    "pipenv_flask_factory",
    {
        "Pipfile": '[packages]\nflask = "*"\n\n[requires]\npython_version = "3.10"\n',
        "Pipfile.lock": json.dumps({"default": {"flask": {"version": "==2.3.3"}}}),
        "myapp/__init__.py": "from flask import Flask\n\ndef create_app():\n    return Flask(__name__)\n",
    },
    apps={
        ".": {
            "framework": "flask",
            "framework_version": "2.3.3",
            "package_manager": "pipenv",
            "runtime_version": "3.10",
            "start_command": "pipenv run gunicorn myapp:create_app() --bind 0.0.0.0:5000",
        }
    },
)
case(
    "port_from_fly_toml",
    {
        "package.json": pkg("f", {"express": "^4"}, scripts={"start": "node index.js"}),
        "index.js": "const app = require('express')()\napp.listen(process.env.PORT)\n",
        "fly.toml": "app = 'f'\n\n[http_service]\n  internal_port = 8080\n",
    },
    apps={".": {"port": 8080, "port_source": "config"}},
    existing={"fly"},
)
case(
    "port_from_env_example",
    {
        "package.json": pkg("e", {"express": "^4"}, scripts={"start": "node index.js"}),
        "index.js": "const app = require('express')()\napp.listen(process.env.PORT)\n",
        ".env.example": "PORT=5005\nDATABASE_URL=postgres://user:pass@localhost:5432/app\n",
    },
    apps={".": {"port": 5005, "port_source": "env", "port_env": "PORT"}},
    # a sample DATABASE_URL the code never reads: not a requirement
    services={},
    possible={"postgres"},
    env={"DATABASE_URL": (True, None)},
)
case(
    "port_from_procfile",
    {
        "requirements.txt": "fastapi\nuvicorn\n",
        "main.py": "from fastapi import FastAPI\napp = FastAPI()\n",
        "Procfile": "web: uvicorn main:app --host 0.0.0.0 --port 7000\nrelease: python migrate.py\n",
    },
    apps={
        ".": {
            "port": 7000,
            "port_source": "procfile",
            "start_command": "uvicorn main:app --host 0.0.0.0 --port 7000",
        }
    },
    workers=set(),
)
case(
    "django_with_frontend_assets",
    {
        "requirements.txt": "django>=4.2,<5\n",
        "manage.py": "import os\n",
        "proj/wsgi.py": "application = None\n",
        "proj/settings.py": "DATABASES = {'default': {'ENGINE': 'django.db.backends.sqlite3'}}\n",
        "package.json": pkg("assets", dev={"webpack": "^5"}, scripts={"build": "webpack"}),
        "assets/index.js": "console.log(1)\n",
    },
    apps={
        ".": {
            "framework": "django",
            "framework_version": "4.2",
            "language": "python",
            "start_command": "gunicorn proj.wsgi:application --bind 0.0.0.0:8000",
        }
    },
    services={"sqlite": None},
    warnings=["SQLite needs a persistent disk"],
)
case(
    "flask_without_manifest_templates_not_a_site",
    {
        "app.py": "from flask import Flask, render_template\napp = Flask(__name__)\n\nif __name__ == '__main__':\n    app.run(port=int(__import__('os').environ.get('PORT', '8000')))\n",
        "templates/index.html": "<html>{{ x }}</html>\n",
        "static/site.css": "body {}\n",
    },
    apps={
        ".": {
            "language": "python",
            "framework": "flask",
            "port": 8000,
            "port_env": "PORT",
            "start_command": "gunicorn app:app --bind 0.0.0.0:8000",
        }
    },
)
case(
    "static_site_in_public_folder",
    {
        "public/index.html": "<html></html>\n",
        "public/app.js": "console.log(1)\n",
        "firebase.json": "{}",
    },
    apps={"public": {"framework": "html", "kind": "static", "static_output_dir": "."}},
)
case(
    "lone_go_file",
    {
        "main.go": 'package main\n\nimport "net/http"\n\nfunc main() {\n\thttp.ListenAndServe(":8080", nil)\n}\n'
    },
    apps={
        ".": {
            "language": "go",
            "framework": "net-http",
            "port": 8080,
            "port_source": "code",
            "package_manager": None,
        }
    },
)
case(
    "port_from_dockerfile_cmd",
    {
        "requirements.txt": "fastapi==0.110.0\nuvicorn\n",
        "main.py": "from fastapi import FastAPI\napp = FastAPI()\n",
        "Dockerfile": 'FROM python:3.12-slim\nCMD ["uvicorn", "main:app", "--host", "0.0.0.0", "--port", "9100"]\n',
    },
    apps={".": {"port": 9100, "port_source": "dockerfile"}},
    existing={"dockerfile"},
)
case(
    "nextjs_route_handler_health",
    {
        "package.json": pkg(
            "n", {"next": "14.2.0"}, scripts={"build": "next build", "start": "next start"}
        ),
        "src/app/api/health/route.ts": "export async function GET() { return Response.json({ ok: true }) }\n",
        "src/app/page.tsx": "export default function P() { return null }\n",
    },
    apps={".": {"framework": "nextjs", "healthcheck_path": "/api/health", "port": 3000}},
)
case(
    "dockerfile_only_service_cmd",
    {
        "docker-compose.yml": "services:\n  scraper:\n    build: ./scraper\n",
        "scraper/Dockerfile": 'FROM node:20-slim\nCOPY . .\nCMD ["node", "scrape.js"]\n',
        "scraper/scrape.js": "const url = process.env.TARGET_URL\nconsole.log(url)\n",
    },
    apps={"scraper": {"language": "javascript", "kind": "cli", "start_command": "node scrape.js"}},
    env={"TARGET_URL": (False, None)},
)
case(
    "fastapi_pydantic_settings",
    {
        "requirements.txt": "fastapi\npydantic-settings\n",
        "app/config.py": (
            "from pydantic_settings import BaseSettings, SettingsConfigDict\n\n\nclass Settings(BaseSettings):\n"
            "    model_config = SettingsConfigDict(env_prefix='APP_')\n    database_url: str\n    debug: bool = False\n"
            "    api_token: str\n    workers: int = 4  # per core\n\n\nsettings = Settings()\n"
        ),
        "app/main.py": "from fastapi import FastAPI\napp = FastAPI()\n",
    },
    apps={
        ".": {
            "framework": "fastapi",
            "start_command": "uvicorn app.main:app --host 0.0.0.0 --port 8000",
        }
    },
    env={
        "APP_DATABASE_URL": (True, None),
        "APP_DEBUG": (False, "False"),
        "APP_API_TOKEN": (True, None),
        "APP_WORKERS": (False, "4"),
    },
)
case(
    "spring_value_annotation",
    {
        "build.gradle": "plugins {\n  id 'org.springframework.boot' version '3.1.5'\n}\ndependencies {\n  implementation 'org.springframework.boot:spring-boot-starter-web'\n}\n",
        "src/main/java/a/Config.java": 'class Config {\n  @Value("${MAIL_HOST:smtp.local}") String host;\n  @Value("${MAIL_PASSWORD}") String pw;\n}\n',
    },
    apps={
        ".": {
            "framework": "spring-boot",
            "framework_version": "3.1.5",
            "port": 8080,
            "port_source": "framework_default",
            "start_command": "java -jar build/libs/*.jar",
        }
    },
    env={"MAIL_HOST": (False, "smtp.local"), "MAIL_PASSWORD": (True, None)},
)
case(
    "cookiecutter_django_layout",
    {
        "requirements/base.txt": "django==4.2.7\ndjango-environ\ncelery==5.3\npsycopg[c]==3.1\n",
        "requirements/production.txt": "-r base.txt\ngunicorn==21.2\n",
        "manage.py": "import os\n",
        "config/settings/base.py": (
            "import environ\nenv = environ.Env()\nDATABASES = {'default': env.db('DATABASE_URL')}\n"
            "SECRET_KEY = env('DJANGO_SECRET_KEY')\nREDIS_URL = env('REDIS_URL', default='redis://redis:6379/0')\n"
            "TIME_ZONE = env('TZ', default='UTC')\n"
        ),
        "config/wsgi.py": "application = None\n",
        "config/celery_app.py": "from celery import Celery\napp = Celery('myapp')\n",
        "Procfile": "web: gunicorn config.wsgi\nworker: celery -A config.celery_app worker\nbeat: celery -A config.celery_app beat\n",
    },
    apps={
        ".": {
            "framework": "django",
            "framework_version": "4.2.7",
            "start_command": "gunicorn config.wsgi",
            "install_command": "pip install -r requirements/production.txt",
        }
    },
    services={"postgres": None, "redis": None},
    workers={("worker", "celery"), ("beat", "celery")},
    env={
        "DATABASE_URL": (True, None),
        "DJANGO_SECRET_KEY": (True, None),
        "REDIS_URL": (True, None),
        "TZ": (False, "UTC"),
    },
)
case(
    "requirements_dev_not_used_for_install",
    {
        "requirements-dev.txt": "pytest\n-r requirements.txt\n",
        "requirements.txt": "flask==3.0.2\n",
        "wsgi.py": "from flask import Flask\napplication = Flask(__name__)\n",
        "tests/test_x.py": "def test(): pass\n",
    },
    apps={
        ".": {
            "framework": "flask",
            "install_command": "pip install -r requirements.txt",
            "start_command": "gunicorn wsgi:application --bind 0.0.0.0:5000",
        }
    },
    tests="pytest",
)
case(
    "go_api_and_worker_commands",
    {
        "go.mod": "module x/svc\n\ngo 1.22\n\nrequire github.com/segmentio/kafka-go v0.4.47\n",
        "cmd/api/main.go": 'package main\n\nimport "net/http"\n\nfunc main() {\n\thttp.ListenAndServe(":8080", nil)\n}\n',
        "cmd/worker/main.go": "package main\n\nfunc main() {\n\tconsume()\n}\n",
        "internal/q/q.go": 'package q\n\nimport "github.com/segmentio/kafka-go"\n\nvar _ = kafka.Reader{}\n',
    },
    apps={
        ".": {
            "framework": "net-http",
            "port": 8080,
            "build_command": "CGO_ENABLED=0 go build -o app ./cmd/api",
        }
    },
    workers={("worker", "go")},
    services={"kafka": None},
)
case(
    "pnpm_monorepo_prisma",
    {
        "package.json": PKG(
            {
                "name": "mono",
                "private": True,
                "packageManager": "pnpm@8.15.1",
                "devDependencies": {"turbo": "^1.12"},
            }
        ),
        "pnpm-workspace.yaml": "packages:\n  - apps/*\n  - packages/*\n",
        "pnpm-lock.yaml": "lockfileVersion: '6.0'\n\nimporters:\n\n  apps/web:\n    dependencies:\n      next:\n        specifier: ^14.1.0\n        version: 14.1.3(react@18.2.0)\n",
        "apps/web/package.json": pkg(
            "web",
            {"next": "^14.1.0", "react": "18.2.0"},
            scripts={"build": "next build", "start": "next start"},
        ),
        "apps/web/app/page.tsx": "export default function P() { return null }\n",
        "apps/api/package.json": pkg(
            "api",
            {"@nestjs/core": "^10", "@prisma/client": "^5"},
            scripts={"build": "nest build", "start:prod": "node dist/main"},
        ),
        "apps/api/prisma/schema.prisma": 'datasource db {\n  provider = "postgresql"\n  url = env("DATABASE_URL")\n}\n',
        "apps/api/src/main.ts": "const app = await NestFactory.create(AppModule)\nawait app.listen(process.env.PORT || 3001)\n",
        "packages/ui/package.json": PKG(
            {"name": "@mono/ui", "main": "index.tsx", "dependencies": {"react": "18.2.0"}}
        ),
        "packages/ui/index.tsx": "export const B = () => null\n",
    },
    apps={
        "apps/web": {
            "framework": "nextjs",
            "framework_version": "14.1.3",
            "package_manager": "pnpm",
            "install_command": "pnpm install --frozen-lockfile",
            "start_command": "pnpm start",
        },
        "apps/api": {
            "framework": "nestjs",
            "port": 3001,
            "port_env": "PORT",
            "start_command": "pnpm run start:prod",
        },
    },
    services={"postgres": None},
    env={"DATABASE_URL": (True, None), "PORT": (False, "3001")},
)


# --- Precision (issue 18): what the app really uses, not what its files mention -------------
GIN_MAIN = (
    'package main\n\nimport "github.com/gin-gonic/gin"\n\nfunc main() {\n\tr := gin.Default()\n'
    '\tr.GET("/healthz", func(c *gin.Context) { c.String(200, "ok") })\n\tr.Run(":8080")\n}\n'
)
case(
    "p18_go_indirect_dependency",
    {
        "go.mod": (
            "module github.com/acme/hello\n\ngo 1.22\n\nrequire github.com/gin-gonic/gin v1.9.1\n\n"
            "require (\n\tgithub.com/lib/pq v1.10.9 // indirect\n\tgithub.com/redis/go-redis/v9 v9.4.0 // indirect\n)\n"
        ),
        "main.go": GIN_MAIN,
    },
    apps={
        ".": {
            "framework": "gin",
            "port": 8080,
            "port_source": "code",
            "build_command": "CGO_ENABLED=0 go build -o app .",
            "start_command": "./app",
            "healthcheck_path": "/healthz",
        }
    },
    services={},
    possible={"postgres", "redis"},
)
case(
    "p18_node_lockfile_transitive",
    {
        "package.json": pkg("api", {"express": "^4.18.2"}, scripts={"start": "node server.js"}),
        "package-lock.json": PKG(
            {
                "name": "api",
                "lockfileVersion": 3,
                "packages": {
                    "": {"dependencies": {"express": "^4.18.2"}},
                    "node_modules/express": {"version": "4.18.2"},
                    "node_modules/pg": {"version": "8.11.3"},
                    "node_modules/ioredis": {"version": "5.3.2"},
                },
            }
        ),
        "server.js": (
            "const express = require('express')\nconst app = express()\n"
            "app.get('/health', (req, res) => res.send('ok'))\napp.listen(process.env.PORT || 3000)\n"
        ),
    },
    apps={
        ".": {
            "framework": "express",
            "port": 3000,
            "port_env": "PORT",
            "start_command": "npm start",
            "healthcheck_path": "/health",
        }
    },
    services={},
    possible=set(),
)
case(
    "p18_env_example_sample_database_url",
    {
        "requirements.txt": "Flask==3.0.0\ngunicorn==21.2.0\n",
        "app.py": "from flask import Flask\n\napp = Flask(__name__)\n\n\n@app.route('/')\ndef index():\n    return 'hi'\n",
        ".env.example": "DATABASE_URL=postgres://user:pass@localhost:5432/app\nFLASK_DEBUG=0\n",
        ".env": "DATABASE_URL=postgres://user:pass@localhost:5432/app\n",
    },
    apps={
        ".": {
            "framework": "flask",
            "start_command": "gunicorn app:app --bind 0.0.0.0:5000",
            "healthcheck_path": "/",
        }
    },
    services={},
    possible={"postgres"},
    env_required={"DATABASE_URL": False},
)
case(
    "p18_sqlite_only_fallback",
    {
        "requirements.txt": "Flask==3.0.0\nFlask-SQLAlchemy==3.1.1\npsycopg2-binary==2.9.9\ngunicorn\n",
        "config.py": (
            "import os\n\n\nclass Config:\n"
            "    SQLALCHEMY_DATABASE_URI = os.environ.get('DATABASE_URL', 'sqlite:///app.db')\n"
        ),
        "app.py": (
            "from flask import Flask\nfrom flask_sqlalchemy import SQLAlchemy\n\nfrom config import Config\n\n"
            "app = Flask(__name__)\napp.config.from_object(Config)\ndb = SQLAlchemy(app)\n\n\n"
            "@app.get('/healthz')\ndef healthz():\n    return 'ok'\n"
        ),
    },
    apps={".": {"framework": "flask", "healthcheck_path": "/healthz"}},
    # psycopg2 is the driver the real DATABASE_URL uses; SQLite is only the unset fallback
    services={"postgres": None},
    possible={"sqlite"},
    env_required={"DATABASE_URL": False},
    no_warnings=["SQLite needs a persistent disk"],
)
case(
    "p18_sqlite_fallback_no_driver",
    {
        "requirements.txt": "fastapi==0.110.0\nuvicorn==0.29.0\nSQLAlchemy==2.0.29\n",
        "main.py": (
            "import os\n\nfrom fastapi import FastAPI\nfrom sqlalchemy import create_engine\n\n"
            "engine = create_engine(os.getenv('DATABASE_URL', 'sqlite:///./data.db'))\napp = FastAPI()\n\n\n"
            "@app.get('/health')\ndef health():\n    return {'ok': True}\n"
        ),
    },
    apps={".": {"framework": "fastapi", "healthcheck_path": "/health"}},
    services={},
    possible={"sqlite"},
    no_warnings=["SQLite needs a persistent disk"],
)
case(
    "p18_rails_cable_redis_mention",
    {
        "Gemfile": 'source "https://rubygems.org"\nruby "3.3.0"\ngem "rails", "~> 7.1.3"\ngem "pg", "~> 1.5"\ngem "puma"\n# gem "redis", "~> 4.0"\n',
        "Gemfile.lock": "GEM\n  specs:\n    rails (7.1.3)\n    pg (1.5.4)\n    redis (4.8.1)\n",
        "config/database.yml": "production:\n  adapter: postgresql\n  url: <%= ENV['DATABASE_URL'] %>\n",
        "config/cable.yml": (
            "development:\n  adapter: async\n\nproduction:\n  adapter: redis\n"
            '  url: <%= ENV.fetch("REDIS_URL") { "redis://localhost:6379/1" } %>\n'
        ),
        "config/routes.rb": 'Rails.application.routes.draw do\n  get "up" => "rails/health#show", as: :rails_health_check\n  root "home#index"\nend\n',
        "config.ru": "require_relative 'config/environment'\nrun Rails.application\n",
    },
    apps={".": {"framework": "rails", "healthcheck_path": "/up", "port": 3000}},
    services={"postgres": None},
    possible={"redis"},
)
case(
    "p18_laravel_redis_config_default",
    {
        "composer.json": json.dumps({"require": {"php": "^8.2", "laravel/framework": "^11.0"}}),
        "artisan": "#!/usr/bin/env php\n<?php\n",
        "public/index.php": "<?php\n",
        "bootstrap/app.php": "<?php\nreturn Application::configure(basePath: dirname(__DIR__))\n    ->withRouting(\n        web: __DIR__.'/../routes/web.php',\n        health: '/up',\n    )->create();\n",
        "routes/web.php": "<?php\nRoute::get('/', function () { return view('welcome'); });\n",
        "config/database.php": (
            "<?php\nreturn [\n    'default' => env('DB_CONNECTION', 'sqlite'),\n"
            "    'redis' => [\n        'client' => env('REDIS_CLIENT', 'phpredis'),\n"
            "        'default' => ['host' => env('REDIS_HOST', '127.0.0.1'), 'port' => env('REDIS_PORT', '6379')],\n    ],\n];\n"
        ),
        "config/cache.php": "<?php\nreturn ['default' => env('CACHE_STORE', 'database')];\n",
        ".env.example": "APP_KEY=\nDB_CONNECTION=mysql\nCACHE_STORE=database\nREDIS_HOST=127.0.0.1\n",
    },
    apps={".": {"framework": "laravel", "healthcheck_path": "/up"}},
    services={"mysql": None},
    possible={"redis"},
)
case(
    "p18_node_pg_and_mysql_drivers_config_mysql",
    {
        "package.json": pkg(
            "shop",
            {"express": "^4.18.2", "sequelize": "^6.37.0", "pg": "^8.11.0", "mysql2": "^3.9.0"},
            scripts={"start": "node app.js"},
        ),
        "config/config.json": PKG(
            {"production": {"use_env_variable": "DATABASE_URL", "dialect": "mysql"}}, indent=2
        ),
        "app.js": (
            "const express = require('express')\nconst { Sequelize } = require('sequelize')\n"
            "const db = new Sequelize(process.env.DATABASE_URL)\nconst app = express()\n"
            "app.get('/healthz', (req, res) => res.send('ok'))\napp.listen(process.env.PORT || 8080)\n"
        ),
    },
    apps={
        ".": {
            "framework": "express",
            "port": 8080,
            "healthcheck_path": "/healthz",
            "start_command": "npm start",
        }
    },
    services={"mysql": None},
    possible={"postgres"},
)
case(
    "p18_django_both_drivers_settings_mysql",
    {
        "requirements.txt": "Django==5.0.3\npsycopg2-binary==2.9.9\nmysqlclient==2.2.4\ngunicorn==21.2.0\n",
        "manage.py": "import os\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'site1.settings')\n",
        "site1/__init__.py": "",
        "site1/wsgi.py": "from django.core.wsgi import get_wsgi_application\napplication = get_wsgi_application()\n",
        "site1/settings.py": "DATABASES = {'default': {'ENGINE': 'django.db.backends.mysql', 'NAME': 'shop'}}\n",
        "site1/urls.py": "from django.urls import include, path\n\nurlpatterns = [path('api/', include('core.urls'))]\n",
        "core/__init__.py": "",
        "core/urls.py": "from django.urls import path\n\nfrom . import views\n\nurlpatterns = [path('health/', views.health)]\n",
        "core/views.py": "from django.http import HttpResponse\n\n\ndef health(request):\n    return HttpResponse('ok')\n",
    },
    apps={".": {"framework": "django", "healthcheck_path": "/api/health"}},
    services={"mysql": None},
    possible={"postgres"},
)
POM_H2 = (
    "<project><modelVersion>4.0.0</modelVersion><artifactId>demo</artifactId>\n"
    "<parent><groupId>org.springframework.boot</groupId><artifactId>spring-boot-starter-parent</artifactId><version>3.2.4</version></parent>\n"
    "<dependencies>\n"
    "<dependency><groupId>org.springframework.boot</groupId><artifactId>spring-boot-starter-web</artifactId></dependency>\n"
    "<dependency><groupId>org.springframework.boot</groupId><artifactId>spring-boot-starter-data-jpa</artifactId></dependency>\n"
    "<dependency><groupId>com.h2database</groupId><artifactId>h2</artifactId><scope>runtime</scope></dependency>\n"
    "<dependency><groupId>org.postgresql</groupId><artifactId>postgresql</artifactId><scope>runtime</scope></dependency>\n"
    "</dependencies></project>\n"
)
case(
    "p18_spring_h2_unless_profile",
    {
        "pom.xml": POM_H2,
        "src/main/java/demo/App.java": "package demo;\n\n@SpringBootApplication\npublic class App { public static void main(String[] a) { SpringApplication.run(App.class, a); } }\n",
        "src/main/resources/application.properties": "spring.datasource.url=jdbc:h2:mem:demo\nspring.jpa.hibernate.ddl-auto=create\n",
        "src/main/resources/application-prod.properties": "spring.datasource.url=jdbc:postgresql://db:5432/demo\n",
    },
    apps={".": {"framework": "spring-boot", "port": 8080, "healthcheck_path": "/"}},
    services={},
    possible={"postgres"},
)
case(
    "p18_health_from_strings_not_routes",
    {
        "requirements.txt": "fastapi==0.110.0\nuvicorn==0.29.0\n",
        "main.py": (
            "import logging\n\nfrom fastapi import FastAPI\n\n"
            "QUIET_PATHS = ['/healthz']  # access-log filter\napp = FastAPI()\n\n"
            "# @app.get('/health')\n\n\n@app.get('/')\ndef index():\n    return {'hi': 1}\n"
        ),
    },
    apps={".": {"framework": "fastapi", "healthcheck_path": "/"}},
    services={},
)
case(
    "p18_fastapi_include_router_prefix",
    {
        "requirements.txt": "fastapi==0.110.0\nuvicorn==0.29.0\n",
        "app/__init__.py": "",
        "app/main.py": (
            "from fastapi import FastAPI\n\nfrom app.routers import health\n\napp = FastAPI()\n"
            "app.include_router(health.router, prefix='/api/v1')\n"
        ),
        "app/routers/__init__.py": "",
        "app/routers/health.py": (
            "from fastapi import APIRouter\n\nrouter = APIRouter(tags=['ops'])\n\n\n"
            "@router.get('/health')\ndef health():\n    return {'ok': True}\n"
        ),
    },
    apps={".": {"framework": "fastapi", "healthcheck_path": "/api/v1/health"}},
)
case(
    "p18_flask_blueprint_url_prefix",
    {
        "requirements.txt": "Flask==3.0.0\n",
        "app.py": (
            "from flask import Flask\n\nfrom ops import bp\n\napp = Flask(__name__)\n"
            "app.register_blueprint(bp)\n"
        ),
        "ops.py": (
            "from flask import Blueprint\n\nbp = Blueprint('ops', __name__, url_prefix='/ops')\n\n\n"
            "@bp.route('/healthz')\ndef healthz():\n    return 'ok'\n"
        ),
    },
    apps={".": {"framework": "flask", "healthcheck_path": "/ops/healthz"}},
)
case(
    "p18_express_router_mounted_and_port_helper",
    {
        "package.json": pkg("www", {"express": "^4.18.2"}, scripts={"start": "node server.js"}),
        "server.js": (
            "const app = require('./app')\nconst port = normalizePort(process.env.PORT || '3001')\n"
            "app.listen(port)\nfunction normalizePort(val) { return parseInt(val, 10) }\n"
        ),
        "app.js": (
            "const express = require('express')\nconst status = require('./routes/status')\n"
            "const app = express()\napp.use('/api/v1', status)\nmodule.exports = app\n"
        ),
        "routes/status.js": (
            "const express = require('express')\nconst router = express.Router()\n"
            "router.get('/health', (req, res) => res.json({ ok: true }))\nmodule.exports = router\n"
        ),
    },
    apps={
        ".": {
            "framework": "express",
            "port": 3001,
            "port_env": "PORT",
            "healthcheck_path": "/api/v1/health",
            "start_command": "npm start",
        }
    },
    services={},
)
case(
    "p18_go_gin_group_and_cmd_binary",
    {
        "go.mod": "module github.com/acme/svc\n\ngo 1.22\n\nrequire github.com/gin-gonic/gin v1.9.1\n",
        "cmd/server/main.go": (
            'package main\n\nimport "github.com/gin-gonic/gin"\n\nfunc main() {\n\tr := gin.Default()\n'
            '\tv1 := r.Group("/api/v1")\n\tv1.GET("/health", func(c *gin.Context) { c.String(200, "ok") })\n\tr.Run(":9000")\n}\n'
        ),
    },
    apps={
        ".": {
            "framework": "gin",
            "port": 9000,
            "build_command": "CGO_ENABLED=0 go build -o app ./cmd/server",
            "start_command": "./app",
            "healthcheck_path": "/api/v1/health",
        }
    },
    services={},
)
case(
    "p18_laravel_api_route",
    {
        "composer.json": json.dumps({"require": {"php": "^8.2", "laravel/framework": "^10.0"}}),
        "artisan": "#!/usr/bin/env php\n<?php\n",
        "public/index.php": "<?php\n",
        "routes/api.php": "<?php\n// Route::get('/ping', fn () => 'x');\nRoute::get('/health', fn () => ['ok' => true]);\n",
    },
    apps={".": {"framework": "laravel", "healthcheck_path": "/api/health"}},
    services={},
)
case(
    "p18_pydantic_base_settings",
    {
        "requirements.txt": "fastapi==0.110.0\nuvicorn==0.29.0\npydantic-settings==2.2.1\nredis==5.0.3\n",
        "settings.py": (
            "from pydantic import Field\nfrom pydantic_settings import BaseSettings, SettingsConfigDict\n\n\n"
            "class Settings(BaseSettings):\n    model_config = SettingsConfigDict(env_prefix='APP_')\n\n"
            "    redis_url: str\n    debug: bool = False\n    workers: int = Field(default=2)\n"
            "    api_token: str = Field(...)\n    region: str = Field('eu-west-1', alias='AWS_REGION')\n"
        ),
        "main.py": (
            "import redis\nfrom fastapi import FastAPI\n\nfrom settings import Settings\n\n"
            "settings = Settings()\ncache = redis.from_url(settings.redis_url)\napp = FastAPI()\n\n\n"
            "@app.get('/healthz')\ndef healthz():\n    return {'ok': True}\n"
        ),
    },
    apps={".": {"framework": "fastapi", "healthcheck_path": "/healthz"}},
    services={"redis": None},
    env={
        "APP_DEBUG": (False, "False"),
        "APP_WORKERS": (False, "2"),
        "AWS_REGION": (False, "eu-west-1"),
    },
    env_required={
        "APP_REDIS_URL": True,
        "APP_API_TOKEN": True,
        "APP_DEBUG": False,
        "AWS_REGION": False,
    },
)
case(
    "p18_env_read_only_by_tests_and_ci",
    {
        "package.json": pkg(
            "web",
            {"express": "^4.18.2"},
            dev={"@playwright/test": "^1.42.0"},
            scripts={"start": "node index.js"},
        ),
        "index.js": (
            "const express = require('express')\nconst app = express()\nconst secret = process.env.SESSION_SECRET\n"
            "app.get('/healthz', (req, res) => res.send('ok'))\napp.listen(process.env.PORT || 3000)\n"
        ),
        "playwright.config.ts": "export default { use: { baseURL: process.env.PLAYWRIGHT_BASE_URL } }\n",
        "e2e/login.spec.ts": "const user = process.env.E2E_USER\n",
        "tests/api.test.js": "const token = process.env.TEST_TOKEN\n",
        "tools/release.js": "const tag = process.env.RELEASE_TAG\n",
    },
    apps={".": {"framework": "express", "port": 3000, "healthcheck_path": "/healthz"}},
    env={"SESSION_SECRET": (True, None)},
    env_required={"SESSION_SECRET": True, "PORT": False},
    env_absent={"PLAYWRIGHT_BASE_URL", "E2E_USER", "TEST_TOKEN", "RELEASE_TAG"},
)
case(
    "p18_procfile_overrides_code_port",
    {
        "requirements.txt": "Flask==3.0.0\ngunicorn==21.2.0\n",
        "app.py": (
            "from flask import Flask\n\napp = Flask(__name__)\n\n\n@app.get('/health')\ndef health():\n    return 'ok'\n\n\n"
            "if __name__ == '__main__':\n    app.run(port=5000)\n"
        ),
        "Procfile": "web: gunicorn app:app --bind 0.0.0.0:8000\n",
    },
    apps={
        ".": {
            "port": 8000,
            "port_source": "procfile",
            "start_command": "gunicorn app:app --bind 0.0.0.0:8000",
            "healthcheck_path": "/health",
        }
    },
)
case(
    "p18_python_port_helper_default",
    {
        "requirements.txt": "Flask==3.0.0\n",
        "app.py": (
            "import os\n\nfrom flask import Flask\n\napp = Flask(__name__)\n\n\n"
            "def get_port() -> int:\n    return int(os.environ.get('PORT', '5001'))\n\n\n"
            "@app.get('/ping')\ndef ping():\n    return 'pong'\n\n\n"
            "if __name__ == '__main__':\n    app.run(host='0.0.0.0', port=get_port())\n"
        ),
    },
    apps={
        ".": {"port": 5001, "port_source": "code", "port_env": "PORT", "healthcheck_path": "/ping"}
    },
)


# --- What the app plan is built from (issue 11) -----------------------------------------
case(
    "plan_node_yarn_berry_with_migrate_script",
    {
        "package.json": pkg(
            "orders",
            deps={"express": "^4.19.0", "knex": "^3.1.0", "pg": "^8.11.0"},
            scripts={"start": "node server.js", "migrate": "knex migrate:latest"},
            engines={"node": ">=20 <25"},
        ),
        "yarn.lock": '__metadata:\n  version: 8\n  cacheKey: 10\n\n"express@npm:^4.19.0":\n  version: 4.19.2\n',
        ".yarnrc.yml": "nodeLinker: node-modules\n",
        "server.js": "const express = require('express');\nconst app = express();\napp.get('/health', (req, res) => res.send('ok'));\napp.listen(process.env.PORT || 3000);\n",
    },
    apps={
        ".": {
            "lockfile": "yarn.lock",
            "lockfile_kind": "yarn-berry",
            "runtime_constraint": ">=20 <25",
            "runtime_source": "package.json",
            "release_command": "npm run migrate",
            "dependencies": ["express", "knex", "pg"],
            "submodules": False,
        }
    },
)
case(
    "plan_fastapi_prestart_and_requires_python",
    {
        "pyproject.toml": '[project]\nname = "api"\nversion = "0.1.0"\nrequires-python = ">=3.11,<3.14"\ndependencies = ["fastapi", "uvicorn", "alembic", "sqlalchemy"]\n',
        "uv.lock": "version = 1\n",
        "scripts/prestart.sh": "#!/bin/sh\nalembic upgrade head\n",
        "app/main.py": "from fastapi import FastAPI\n\napp = FastAPI()\n\n\n@app.get('/health')\ndef health():\n    return {'ok': True}\n",
        ".gitmodules": '[submodule "vendor/x"]\n\tpath = vendor/x\n\turl = https://example.com/x.git\n',
    },
    apps={
        ".": {
            "lockfile": "uv.lock",
            "lockfile_kind": "uv",
            "runtime_constraint": ">=3.11,<3.14",
            "release_command": "sh scripts/prestart.sh",
            "dependencies": ["alembic", "fastapi", "sqlalchemy", "uvicorn"],
            "submodules": True,
        }
    },
)
case(
    "plan_go_runtime_folders",
    {
        "go.mod": "module example.com/site\n\ngo 1.24\n\nrequire github.com/gin-gonic/gin v1.10.0\n",
        "go.sum": "github.com/gin-gonic/gin v1.10.0 h1:x\n",
        "main.go": 'package main\n\nimport "github.com/gin-gonic/gin"\n\nfunc main() {\n\tr := gin.Default()\n\tr.LoadHTMLGlob("templates/*")\n\tr.Static("/static", "./static")\n\tr.Run(":8080")\n}\n',
        "templates/index.html": "<h1>hi</h1>\n",
        "static/site.css": "body {}\n",
    },
    apps={
        ".": {
            "lockfile": "go.sum",
            "runtime_constraint": "1.24",
            "runtime_dirs": ["templates", "static"],
            "release_command": None,
        }
    },
)
