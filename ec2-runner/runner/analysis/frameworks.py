"""The frameworks we recognize, per ecosystem, in priority order, with their defaults; and
the dependencies that reveal a backing service."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib.models.profile import Evidence
from runner.analysis.context import Draft


@dataclass(frozen=True)
class FrameworkSpec:
    id: str
    deps: tuple[str, ...]  # dependency names (normalized) or prefixes ending in "*"
    imports: tuple[str, ...] = ()  # module/package names seen in code
    kind: str = "web"
    default_port: int | None = None
    static_output_dir: str | None = None


F = FrameworkSpec

# Order matters: the first match wins (meta-frameworks before the servers they use).
FRAMEWORKS: dict[str, list[FrameworkSpec]] = {
    "python": [
        F("django", ("django",), ("django",), default_port=8000),
        F("fastapi", ("fastapi",), ("fastapi",), default_port=8000),
        F("litestar", ("litestar",), ("litestar",), default_port=8000),
        F("flask", ("flask",), ("flask",), default_port=5000),
        F("sanic", ("sanic",), ("sanic",), default_port=8000),
        F("starlette", ("starlette",), ("starlette",), default_port=8000),
        F("aiohttp", ("aiohttp",), ("aiohttp",), default_port=8080),
        F("tornado", ("tornado",), ("tornado",), default_port=8888),
        F("streamlit", ("streamlit",), ("streamlit",), default_port=8501),
        F("gradio", ("gradio",), ("gradio",), default_port=7860),
    ],
    "node": [
        F("nestjs", ("@nestjs/core",), default_port=3000),
        F("nextjs", ("next",), default_port=3000),
        F("nuxt", ("nuxt", "nuxt3"), default_port=3000),
        F("remix", ("@remix-run/node", "@remix-run/serve", "@remix-run/react"), default_port=3000),
        F("react-router", ("@react-router/dev", "@react-router/node"), default_port=3000),
        F("sveltekit", ("@sveltejs/kit",), default_port=3000),
        F("astro", ("astro",), kind="static", default_port=4321, static_output_dir="dist"),
        F("adonisjs", ("@adonisjs/core",), default_port=3333),
        F("gatsby", ("gatsby",), kind="static", static_output_dir="public"),
        F("docusaurus", ("@docusaurus/core",), kind="static", static_output_dir="build"),
        F("eleventy", ("@11ty/eleventy",), kind="static", static_output_dir="_site"),
        F("angular", ("@angular/core",), kind="static", static_output_dir="dist"),
        F("hono", ("hono",), ("hono",), default_port=3000),
        F("fastify", ("fastify",), ("fastify",), default_port=3000),
        F("koa", ("koa",), ("koa",), default_port=3000),
        F("hapi", ("@hapi/hapi", "hapi"), ("@hapi/hapi", "hapi"), default_port=3000),
        F("express", ("express",), ("express",), default_port=3000),
        F("create-react-app", ("react-scripts",), kind="static", static_output_dir="build"),
        F("vite", ("vite",), kind="static", static_output_dir="dist"),
    ],
    "go": [
        F("gin", ("github.com/gin-gonic/gin",), ("github.com/gin-gonic/gin",), default_port=8080),
        F(
            "echo",
            ("github.com/labstack/echo*",),
            ("github.com/labstack/echo*",),
            default_port=1323,
        ),
        F(
            "fiber",
            ("github.com/gofiber/fiber*",),
            ("github.com/gofiber/fiber*",),
            default_port=3000,
        ),
        F("chi", ("github.com/go-chi/chi*",), ("github.com/go-chi/chi*",), default_port=8080),
        F(
            "gorilla-mux",
            ("github.com/gorilla/mux",),
            ("github.com/gorilla/mux",),
            default_port=8080,
        ),
        F("net-http", (), ("net/http",), default_port=8080),
    ],
    "jvm": [
        F("spring-boot", ("org.springframework.boot*",), default_port=8080),
        F("quarkus", ("io.quarkus*",), default_port=8080),
        F("micronaut", ("io.micronaut*",), default_port=8080),
        F("ktor", ("io.ktor:ktor-server*",), default_port=8080),
    ],
    "ruby": [
        F("rails", ("rails", "railties"), default_port=3000),
        F("jekyll", ("jekyll",), kind="static", static_output_dir="_site"),
        F("sinatra", ("sinatra",), default_port=4567),
        F("rack", ("rack",), default_port=9292),
    ],
    "php": [
        F("laravel", ("laravel/framework",), default_port=8000),
        F("symfony", ("symfony/framework-bundle", "symfony/runtime"), default_port=8000),
        F("slim", ("slim/slim",), default_port=8080),
    ],
    "rust": [
        F("axum", ("axum",), default_port=3000),
        F("actix-web", ("actix-web",), default_port=8080),
        F("rocket", ("rocket",), default_port=8000),
        F("warp", ("warp",), default_port=3030),
    ],
    "dotnet": [F("aspnetcore", ("Microsoft.NET.Sdk.Web",), default_port=8080)],
    "static": [
        F("hugo", (), kind="static", static_output_dir="public"),
        F("mkdocs", ("mkdocs",), kind="static", static_output_dir="site"),
        F("jekyll", (), kind="static", static_output_dir="_site"),
        F("html", (), kind="static", static_output_dir="."),
    ],
}
SPECS = {spec.id: spec for specs in FRAMEWORKS.values() for spec in specs}
# Frameworks without a port of their own; defaults for "no framework" servers.
PLAIN_DEFAULT_PORT = {
    "python": 8000,
    "node": 3000,
    "go": 8080,
    "php": 8080,
    "ruby": 3000,
    "rust": 8080,
    "jvm": 8080,
    "dotnet": 8080,
}


def _matches(pattern: str, name: str) -> bool:
    if pattern.endswith("*"):
        return name.startswith(pattern[:-1])
    return name == pattern


def find_dep(draft: Draft, patterns: tuple[str, ...]) -> Any:
    for pattern in patterns:
        if pattern.endswith("*"):
            for name in sorted(draft.cand.deps):
                if _matches(pattern, name):
                    return draft.cand.deps[name]
        elif pattern in draft.cand.deps:
            return draft.cand.deps[pattern]
    return None


def detect_framework(draft: Draft, ecosystem: str | None = None) -> FrameworkSpec | None:
    """The first framework of the ecosystem found in the dependencies or, failing that, in the
    imports of the app's code. Sets it on the draft with its version and evidence."""
    specs = FRAMEWORKS.get(ecosystem or draft.cand.ecosystem, [])
    imports = draft.imports()
    for spec in specs:
        dep = find_dep(draft, spec.deps) if spec.deps else None
        if dep is not None:
            evidence = [dep.evidence()]
            imp = _import_of(spec, imports)
            if imp is not None:
                evidence.append(
                    Evidence(file=imp.file, line=imp.line, detail=f"import {imp.value}")
                )
            draft.set_framework(spec.id, dep.version, evidence)
            return spec
    for spec in specs:
        imp = _import_of(spec, imports)
        if imp is not None:
            draft.set_framework(
                spec.id,
                None,
                [Evidence(file=imp.file, line=imp.line, detail=f"import {imp.value}")],
            )
            return spec
    return None


def _import_of(spec: FrameworkSpec, imports: dict[str, Any]) -> Any:
    for pattern in spec.imports:
        for name in sorted(imports):
            if _matches(pattern, name):
                return imports[name]
    return None


# Dependencies that reveal a service, per ecosystem (normalized names; "*" = prefix).
SERVICE_DEPS: dict[str, dict[str, str]] = {
    "python": {
        "psycopg2": "postgres",
        "psycopg2-binary": "postgres",
        "psycopg": "postgres",
        "psycopg-binary": "postgres",
        "asyncpg": "postgres",
        "pg8000": "postgres",
        "mysqlclient": "mysql",
        "pymysql": "mysql",
        "mysql-connector-python": "mysql",
        "aiomysql": "mysql",
        "asyncmy": "mysql",
        "pymongo": "mongodb",
        "motor": "mongodb",
        "mongoengine": "mongodb",
        "beanie": "mongodb",
        "redis": "redis",
        "aioredis": "redis",
        "django-redis": "redis",
        "rq": "redis",
        "elasticsearch": "elasticsearch",
        "elasticsearch-dsl": "elasticsearch",
        "opensearch-py": "elasticsearch",
        "pika": "rabbitmq",
        "aio-pika": "rabbitmq",
        "kafka-python": "kafka",
        "confluent-kafka": "kafka",
        "aiokafka": "kafka",
        "django-storages": "object_storage",
        "minio": "object_storage",
        "aiosqlite": "sqlite",
    },
    "node": {
        "pg": "postgres",
        "postgres": "postgres",
        "pg-promise": "postgres",
        "mysql": "mysql",
        "mysql2": "mysql",
        "mongodb": "mongodb",
        "mongoose": "mongodb",
        "redis": "redis",
        "ioredis": "redis",
        "bullmq": "redis",
        "bull": "redis",
        "bee-queue": "redis",
        "@elastic/elasticsearch": "elasticsearch",
        "@opensearch-project/opensearch": "elasticsearch",
        "amqplib": "rabbitmq",
        "amqp-connection-manager": "rabbitmq",
        "kafkajs": "kafka",
        "@aws-sdk/client-s3": "object_storage",
        "minio": "object_storage",
        "sqlite3": "sqlite",
        "better-sqlite3": "sqlite",
        "@libsql/client": "sqlite",
    },
    "go": {
        "github.com/lib/pq": "postgres",
        "github.com/jackc/pgx*": "postgres",
        "gorm.io/driver/postgres": "postgres",
        "github.com/go-sql-driver/mysql": "mysql",
        "gorm.io/driver/mysql": "mysql",
        "go.mongodb.org/mongo-driver*": "mongodb",
        "github.com/redis/go-redis*": "redis",
        "github.com/go-redis/redis*": "redis",
        "github.com/gomodule/redigo": "redis",
        "github.com/elastic/go-elasticsearch*": "elasticsearch",
        "github.com/olivere/elastic*": "elasticsearch",
        "github.com/streadway/amqp": "rabbitmq",
        "github.com/rabbitmq/amqp091-go": "rabbitmq",
        "github.com/segmentio/kafka-go": "kafka",
        "github.com/Shopify/sarama": "kafka",
        "github.com/IBM/sarama": "kafka",
        "github.com/confluentinc/confluent-kafka-go*": "kafka",
        "github.com/aws/aws-sdk-go-v2/service/s3": "object_storage",
        "github.com/minio/minio-go*": "object_storage",
        "github.com/mattn/go-sqlite3": "sqlite",
        "modernc.org/sqlite": "sqlite",
        "gorm.io/driver/sqlite": "sqlite",
    },
    "jvm": {
        "org.postgresql:postgresql": "postgres",
        "com.mysql:mysql-connector-j": "mysql",
        "mysql:mysql-connector-java": "mysql",
        "org.mariadb.jdbc:mariadb-java-client": "mysql",
        "io.quarkus:quarkus-jdbc-postgresql": "postgres",
        "io.quarkus:quarkus-jdbc-mysql": "mysql",
        "org.springframework.boot:spring-boot-starter-data-mongodb": "mongodb",
        "org.mongodb*": "mongodb",
        "org.springframework.boot:spring-boot-starter-data-redis": "redis",
        "redis.clients:jedis": "redis",
        "io.lettuce:lettuce-core": "redis",
        "org.springframework.boot:spring-boot-starter-data-elasticsearch": "elasticsearch",
        "co.elastic.clients*": "elasticsearch",
        "org.springframework.boot:spring-boot-starter-amqp": "rabbitmq",
        "com.rabbitmq:amqp-client": "rabbitmq",
        "org.springframework.kafka:spring-kafka": "kafka",
        "org.apache.kafka:kafka-clients": "kafka",
        "software.amazon.awssdk:s3": "object_storage",
        "org.xerial:sqlite-jdbc": "sqlite",
    },
    "ruby": {
        "pg": "postgres",
        "mysql2": "mysql",
        "trilogy": "mysql",
        "sqlite3": "sqlite",
        "mongoid": "mongodb",
        "mongo": "mongodb",
        "redis": "redis",
        "sidekiq": "redis",
        "resque": "redis",
        "elasticsearch": "elasticsearch",
        "searchkick": "elasticsearch",
        "bunny": "rabbitmq",
        "sneakers": "rabbitmq",
        "ruby-kafka": "kafka",
        "rdkafka": "kafka",
        "karafka": "kafka",
        "aws-sdk-s3": "object_storage",
    },
    "php": {
        "predis/predis": "redis",
        "mongodb/mongodb": "mongodb",
        "elasticsearch/elasticsearch": "elasticsearch",
        "php-amqplib/php-amqplib": "rabbitmq",
        "league/flysystem-aws-s3-v3": "object_storage",
        "aws/aws-sdk-php": "object_storage",
        "doctrine/mongodb-odm": "mongodb",
    },
    "rust": {
        "tokio-postgres": "postgres",
        "postgres": "postgres",
        "mysql": "mysql",
        "mysql_async": "mysql",
        "mongodb": "mongodb",
        "redis": "redis",
        "elasticsearch": "elasticsearch",
        "lapin": "rabbitmq",
        "rdkafka": "kafka",
        "aws-sdk-s3": "object_storage",
        "rusqlite": "sqlite",
    },
    "dotnet": {
        "Npgsql*": "postgres",
        "MySql.Data": "mysql",
        "MySqlConnector": "mysql",
        "Pomelo.EntityFrameworkCore.MySql": "mysql",
        "Microsoft.EntityFrameworkCore.Sqlite": "sqlite",
        "Microsoft.Data.Sqlite": "sqlite",
        "MongoDB.Driver": "mongodb",
        "StackExchange.Redis": "redis",
        "Microsoft.Extensions.Caching.StackExchangeRedis": "redis",
        "Elastic.Clients.Elasticsearch": "elasticsearch",
        "NEST": "elasticsearch",
        "RabbitMQ.Client": "rabbitmq",
        "MassTransit.RabbitMQ": "rabbitmq",
        "Confluent.Kafka": "kafka",
        "AWSSDK.S3": "object_storage",
    },
}
