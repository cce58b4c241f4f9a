"""Class 7: services are wired the way the app reads them."""

from __future__ import annotations

from tests.golden.plan_profiles import bundle_of, env_var, plan_of, profile

PG_URL = "postgresql://{user}:{password}@{host}:{port}/{db}?sslmode=require"


def test_postgres_url_requires_tls() -> None:
    (binding,) = plan_of(profile("python", framework="django", services=("postgres",))).services
    assert binding.kind == "postgresql"
    assert binding.env["DATABASE_URL"] == PG_URL
    assert binding.env["DB_PASSWORD"] == "{password}"


def test_spring_reads_spring_datasource() -> None:
    (binding,) = plan_of(profile("jvm", framework="spring-boot", services=("postgres",))).services
    assert binding.env == {
        "SPRING_DATASOURCE_URL": "jdbc:postgresql://{host}:{port}/{db}?sslmode=require",
        "SPRING_DATASOURCE_USERNAME": "{user}",
        "SPRING_DATASOURCE_PASSWORD": "{password}",
    }


def test_laravel_reads_its_db_variables_and_mysql_gets_mysql() -> None:
    (binding,) = plan_of(profile("php", framework="laravel", services=("mysql",))).services
    assert binding.kind == "mysql"
    assert binding.env == {
        "DB_CONNECTION": "mysql",
        "DB_HOST": "{host}",
        "DB_PORT": "{port}",
        "DB_DATABASE": "{db}",
        "DB_USERNAME": "{user}",
        "DB_PASSWORD": "{password}",
    }


def test_discrete_pg_variables_when_the_app_reads_them() -> None:
    prof = profile("node", services=("postgres",), env=[env_var("PGHOST")])
    (binding,) = plan_of(prof).services
    assert binding.env["PGHOST"] == "{host}" and binding.env["PGSSLMODE"] == "require"
    assert binding.env["PGPASSWORD"] == "{password}"


def test_terraform_sets_the_plans_variables_and_the_password_from_the_rds_secret() -> None:
    files = bundle_of(profile("jvm", framework="spring-boot", services=("postgres",)),
                      "ecs-fargate").files  # fmt: skip
    environment = files["infra/environment.tf"]
    assert (
        '"SPRING_DATASOURCE_URL"      = "jdbc:postgresql://${aws_db_instance.main.address}:'
        '${tostring(aws_db_instance.main.port)}/${aws_db_instance.main.db_name}?sslmode=require"'
    ) in environment
    assert '"SPRING_DATASOURCE_USERNAME" = aws_db_instance.main.username' in environment
    ecs = files["infra/ecs.tf"]
    assert 'for name in ["DB_PASSWORD", "SPRING_DATASOURCE_PASSWORD"]' in ecs


def test_ec2_composes_each_url_with_the_password() -> None:
    ec2 = bundle_of(profile("python", framework="django", services=("postgres",)),
                    "ec2").files["infra/ec2.tf"]  # fmt: skip
    assert f'database_urls    = {{ "DATABASE_URL" = "{PG_URL}" }}' in ec2


def test_compose_wires_the_local_database_the_same_way_without_tls() -> None:
    import yaml

    files = bundle_of(profile("jvm", framework="spring-boot", services=("postgres",)),
                      "ec2").files  # fmt: skip
    environment = yaml.safe_load(files["docker-compose.yml"])["services"]["app"]["environment"]
    assert environment["SPRING_DATASOURCE_URL"] == "jdbc:postgresql://postgres:5432/app"
    assert environment["SPRING_DATASOURCE_PASSWORD"] == "app"
