resource "aws_ecs_cluster" "main" {
  #checkov:skip=CKV_AWS_65:Container Insights is billed per metric; the service's basic metrics are free.
  name = var.name

  setting {
    name  = "containerInsights"
    value = "disabled"
  }
}

resource "aws_cloudwatch_log_group" "app" {
  #checkov:skip=CKV_AWS_158:Encrypted with the CloudWatch-managed key; a customer key costs $1/month.
  #checkov:skip=CKV_AWS_338:Logs are kept var.log_retention_days (default 14) to keep storage cheap.
  name              = "/autostack/${var.name}"
  retention_in_days = var.log_retention_days
}

data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
  }
}

# Used by ECS itself: pull the image, write logs, read the secrets into the container.
resource "aws_iam_role" "execution" {
  name               = "${var.name}-execution"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

resource "aws_iam_role_policy_attachment" "execution" {
  role       = aws_iam_role.execution.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
}

resource "aws_iam_role_policy" "execution_secrets" {
  name   = "read-app-secrets"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.app_access.json
}

resource "aws_iam_role_policy" "execution_config" {
  # Only with a path: an empty one would name every parameter.
  count = length(compact([var.app_config_path]))

  name   = "read-app-config"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.app_config_read.json
}

# Used by the app's code.
resource "aws_iam_role" "task" {
  name               = "${var.name}-task"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

resource "aws_iam_role_policy" "task_access" {
  name   = "app-access"
  role   = aws_iam_role.task.id
  policy = data.aws_iam_policy_document.app_access.json
}

# The app's config set through AutoStack (var.app_config_path), by name and ARN only: ECS
# fetches each value (String or SecureString) at task start, so an apply keeps the config
# the app runs with. Without decryption: no secret's value enters the state.
data "aws_ssm_parameters_by_path" "app_config" {
  for_each = toset(compact([var.app_config_path]))

  path            = each.value
  recursive       = false
  with_decryption = false
}

locals {
  # Config names as the API accepts them; others under the path (written by hand) are left out.
  app_config_found    = merge([for found in data.aws_ssm_parameters_by_path.app_config : zipmap([for name in found.names : basename(name)], found.arns)]...)
  app_config_reserved = [for name in keys(local.app_config_found) : name if can(regex("^(AWS|AUTOSTACK|LAMBDA|ECS)_", name))]
  app_config_names    = setsubtract([for name in keys(local.app_config_found) : name if can(regex("^[A-Z_][A-Z0-9_]{0,127}$", name))], concat(local.app_config_reserved, local.reserved_config_names))
  app_config_arns     = { for name in local.app_config_names : name => local.app_config_found[name] }
  # Set by the platform or the runtime (chalicelib/models/app_config.py RESERVED_NAMES).
  reserved_config_names = ["HOME", "HOST", "LD_LIBRARY_PATH", "LD_PRELOAD", "NODE_OPTIONS", "NODE_PATH", "PATH", "PORT", "PWD", "PYTHONHOME", "PYTHONPATH", "PYTHONSTARTUP", "SHELL", "TZ", "USER", "VIRTUAL_ENV", "_HANDLER", "_X_AMZN_TRACE_ID"]
}

output "app_config_parameters" {
  description = "The app's config the task definitions name (SSM parameter ARN by name; ECS reads the values at task start)."
  value       = local.app_config_arns
}

locals {
  # Two zones: the load balancer's minimum. Each zone it spans holds a billed public IPv4
  # address, so it spans two (not every default subnet); the tasks run in the same two.
  service_subnets = slice(sort(data.aws_subnets.default.ids), 0, 2)
  # The user's config names win over the bundle's variables of the same name.
  container_environment = [for name, value in local.app_environment : { name = name, value = value } if contains(setsubtract(keys(local.app_environment), keys(local.app_config_arns)), name)]
  container_secrets = concat(
    [for name, arn in local.secret_arns : { name = name, valueFrom = arn } if contains(setsubtract(keys(local.secret_arns), keys(local.app_config_arns)), name)],
    [for name, arn in local.app_config_arns : { name = name, valueFrom = arn }],
    [for name in ["DB_PASSWORD"] : { name = name, valueFrom = "${aws_db_instance.main.master_user_secret[0].secret_arn}:password::" }],
  )
}

resource "aws_ecs_task_definition" "app" {
  #checkov:skip=CKV_AWS_336:The app may write temporary files; a read-only root needs app-specific volumes.
  family                   = "${var.name}-app"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.task_cpu
  memory                   = var.task_memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  container_definitions = jsonencode([{
    name                   = "app"
    image                  = "${aws_ecr_repository.app.repository_url}:${var.image_tag}"
    essential              = true
    command                = ["/bin/sh", "-c", "export DATABASE_URL=\"postgresql://$DB_USER:$(printf '%s' \"$DB_PASSWORD\" | od -An -tx1 -v | tr -d ' \\n' | sed 's/../%&/g')@$DB_HOST:$DB_PORT/$DB_NAME?sslmode=require\" && exec /bin/sh -c 'npm start'"]
    portMappings           = [{ containerPort = 3000, protocol = "tcp" }]
    environment            = local.container_environment
    secrets                = local.container_secrets
    readonlyRootFilesystem = false
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        "awslogs-group"         = aws_cloudwatch_log_group.app.name
        "awslogs-region"        = var.region
        "awslogs-stream-prefix" = "app"
      }
    }
  }])
}

resource "aws_ecs_service" "app" {
  #checkov:skip=CKV_AWS_333:Tasks get a public IP instead of a NAT gateway ($33/month); the security group admits only the load balancer.
  name                    = "app"
  cluster                 = aws_ecs_cluster.main.id
  task_definition         = aws_ecs_task_definition.app.arn
  desired_count           = var.desired_count
  launch_type             = "FARGATE"
  propagate_tags          = "SERVICE"
  enable_ecs_managed_tags = true
  # Terraform (and so CI) waits until the new tasks are healthy; a failed rollout fails the job.
  wait_for_steady_state = true

  network_configuration {
    subnets          = local.service_subnets
    security_groups  = [aws_security_group.app.id]
    assign_public_ip = true
  }

  load_balancer {
    target_group_arn = aws_lb_target_group.app.arn
    container_name   = "app"
    container_port   = 3000
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  depends_on = [aws_lb_listener.http]
}

resource "aws_ecs_task_definition" "worker_celery" {
  #checkov:skip=CKV_AWS_336:The app may write temporary files; a read-only root needs app-specific volumes.
  family                   = "${var.name}-worker-celery"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.task_cpu
  memory                   = var.task_memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  container_definitions = jsonencode([{
    name                   = "worker-celery"
    image                  = "${aws_ecr_repository.companion["api"].repository_url}:${var.image_tag}"
    essential              = true
    command                = ["/bin/sh", "-c", "export DATABASE_URL=\"postgresql://$DB_USER:$(printf '%s' \"$DB_PASSWORD\" | od -An -tx1 -v | tr -d ' \\n' | sed 's/../%&/g')@$DB_HOST:$DB_PORT/$DB_NAME?sslmode=require\" && exec /bin/sh -c 'celery -A api worker'"]
    environment            = local.container_environment
    secrets                = local.container_secrets
    readonlyRootFilesystem = false
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        "awslogs-group"         = aws_cloudwatch_log_group.app.name
        "awslogs-region"        = var.region
        "awslogs-stream-prefix" = "worker-celery"
      }
    }
  }])
}

resource "aws_ecs_service" "worker_celery" {
  #checkov:skip=CKV_AWS_333:Tasks get a public IP instead of a NAT gateway ($33/month); the security group admits only the load balancer.
  name                    = "worker-celery"
  cluster                 = aws_ecs_cluster.main.id
  task_definition         = aws_ecs_task_definition.worker_celery.arn
  desired_count           = var.desired_count
  launch_type             = "FARGATE"
  propagate_tags          = "SERVICE"
  enable_ecs_managed_tags = true
  # Terraform (and so CI) waits until the new tasks are healthy; a failed rollout fails the job.
  wait_for_steady_state = true

  network_configuration {
    subnets          = local.service_subnets
    security_groups  = [aws_security_group.app.id]
    assign_public_ip = true
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }
}

resource "aws_ecs_task_definition" "api" {
  #checkov:skip=CKV_AWS_336:The app may write temporary files; a read-only root needs app-specific volumes.
  family                   = "${var.name}-api"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.task_cpu
  memory                   = var.task_memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  container_definitions = jsonencode([{
    name                   = "api"
    image                  = "${aws_ecr_repository.companion["api"].repository_url}:${var.image_tag}"
    essential              = true
    command                = ["/bin/sh", "-c", "export DATABASE_URL=\"postgresql://$DB_USER:$(printf '%s' \"$DB_PASSWORD\" | od -An -tx1 -v | tr -d ' \\n' | sed 's/../%&/g')@$DB_HOST:$DB_PORT/$DB_NAME?sslmode=require\" && exec /bin/sh -c 'uvicorn main:app --host 0.0.0.0 --port $PORT'"]
    portMappings           = [{ containerPort = 8000, protocol = "tcp" }]
    environment            = local.container_environment
    secrets                = local.container_secrets
    readonlyRootFilesystem = false
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        "awslogs-group"         = aws_cloudwatch_log_group.app.name
        "awslogs-region"        = var.region
        "awslogs-stream-prefix" = "api"
      }
    }
  }])
}

resource "aws_ecs_service" "api" {
  #checkov:skip=CKV_AWS_333:Tasks get a public IP instead of a NAT gateway ($33/month); the security group admits only the load balancer.
  name                    = "api"
  cluster                 = aws_ecs_cluster.main.id
  task_definition         = aws_ecs_task_definition.api.arn
  desired_count           = var.desired_count
  launch_type             = "FARGATE"
  propagate_tags          = "SERVICE"
  enable_ecs_managed_tags = true
  # Terraform (and so CI) waits until the new tasks are healthy; a failed rollout fails the job.
  wait_for_steady_state = true

  network_configuration {
    subnets          = local.service_subnets
    security_groups  = [aws_security_group.app.id]
    assign_public_ip = true
  }

  load_balancer {
    target_group_arn = aws_lb_target_group.api.arn
    container_name   = "api"
    container_port   = 8000
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  depends_on = [aws_lb_listener.http]
}

resource "aws_ecs_task_definition" "jobs" {
  #checkov:skip=CKV_AWS_336:The app may write temporary files; a read-only root needs app-specific volumes.
  family                   = "${var.name}-jobs"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.task_cpu
  memory                   = var.task_memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  container_definitions = jsonencode([{
    name                   = "jobs"
    image                  = "${aws_ecr_repository.companion["jobs"].repository_url}:${var.image_tag}"
    essential              = true
    command                = ["/bin/sh", "-c", "export DATABASE_URL=\"postgresql://$DB_USER:$(printf '%s' \"$DB_PASSWORD\" | od -An -tx1 -v | tr -d ' \\n' | sed 's/../%&/g')@$DB_HOST:$DB_PORT/$DB_NAME?sslmode=require\" && exec /bin/sh -c 'python -m jobs'"]
    environment            = local.container_environment
    secrets                = local.container_secrets
    readonlyRootFilesystem = false
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        "awslogs-group"         = aws_cloudwatch_log_group.app.name
        "awslogs-region"        = var.region
        "awslogs-stream-prefix" = "jobs"
      }
    }
  }])
}

resource "aws_ecs_service" "jobs" {
  #checkov:skip=CKV_AWS_333:Tasks get a public IP instead of a NAT gateway ($33/month); the security group admits only the load balancer.
  name                    = "jobs"
  cluster                 = aws_ecs_cluster.main.id
  task_definition         = aws_ecs_task_definition.jobs.arn
  desired_count           = var.desired_count
  launch_type             = "FARGATE"
  propagate_tags          = "SERVICE"
  enable_ecs_managed_tags = true
  # Terraform (and so CI) waits until the new tasks are healthy; a failed rollout fails the job.
  wait_for_steady_state = true

  network_configuration {
    subnets          = local.service_subnets
    security_groups  = [aws_security_group.app.id]
    assign_public_ip = true
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }
}

resource "aws_ecs_task_definition" "admin" {
  #checkov:skip=CKV_AWS_336:The app may write temporary files; a read-only root needs app-specific volumes.
  family                   = "${var.name}-admin"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.task_cpu
  memory                   = var.task_memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  container_definitions = jsonencode([{
    name                   = "admin"
    image                  = "${aws_ecr_repository.companion["admin"].repository_url}:${var.image_tag}"
    essential              = true
    portMappings           = [{ containerPort = 8080, protocol = "tcp" }]
    environment            = local.container_environment
    secrets                = local.container_secrets
    readonlyRootFilesystem = false
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        "awslogs-group"         = aws_cloudwatch_log_group.app.name
        "awslogs-region"        = var.region
        "awslogs-stream-prefix" = "admin"
      }
    }
  }])
}

resource "aws_ecs_service" "admin" {
  #checkov:skip=CKV_AWS_333:Tasks get a public IP instead of a NAT gateway ($33/month); the security group admits only the load balancer.
  name                    = "admin"
  cluster                 = aws_ecs_cluster.main.id
  task_definition         = aws_ecs_task_definition.admin.arn
  desired_count           = var.desired_count
  launch_type             = "FARGATE"
  propagate_tags          = "SERVICE"
  enable_ecs_managed_tags = true
  # Terraform (and so CI) waits until the new tasks are healthy; a failed rollout fails the job.
  wait_for_steady_state = true

  network_configuration {
    subnets          = local.service_subnets
    security_groups  = [aws_security_group.app.id]
    assign_public_ip = true
  }

  load_balancer {
    target_group_arn = aws_lb_target_group.admin.arn
    container_name   = "admin"
    container_port   = 8080
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  depends_on = [aws_lb_listener.http]
}

resource "aws_security_group" "alb" {
  #checkov:skip=CKV_AWS_260:The public entry point: port 80 is open to the internet on purpose.
  name        = "${var.name}-alb"
  description = "Load balancer: web traffic in, app port out"
  vpc_id      = data.aws_vpc.default.id

  ingress {
    description = "HTTP"
    from_port   = 80
    to_port     = 80
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }

  egress {
    description = "To the app tasks on port 3000"
    from_port   = 3000
    to_port     = 3000
    protocol    = "tcp"
    cidr_blocks = [data.aws_vpc.default.cidr_block]
  }

  egress {
    description = "To the app tasks on port 8000"
    from_port   = 8000
    to_port     = 8000
    protocol    = "tcp"
    cidr_blocks = [data.aws_vpc.default.cidr_block]
  }

  egress {
    description = "To the app tasks on port 8080"
    from_port   = 8080
    to_port     = 8080
    protocol    = "tcp"
    cidr_blocks = [data.aws_vpc.default.cidr_block]
  }
}

resource "aws_lb" "app" {
  #checkov:skip=CKV_AWS_91:Access logs need a log bucket; enable them when needed.
  #checkov:skip=CKV_AWS_150:Deletion protection would block AutoStack's destroy job.
  #checkov:skip=CKV2_AWS_28:AWS WAF costs at least $5/month plus rules.
  #checkov:skip=CKV2_AWS_76:No WAF (see CKV2_AWS_28).
  #checkov:skip=CKV2_AWS_20:No domain, so no certificate and no HTTPS listener to redirect to.
  name                       = var.name
  load_balancer_type         = "application"
  internal                   = false
  security_groups            = [aws_security_group.alb.id]
  subnets                    = local.service_subnets
  drop_invalid_header_fields = true
}

resource "aws_lb_target_group" "app" {
  #checkov:skip=CKV_AWS_378:TLS would end at the load balancer; inside the VPC the app speaks HTTP.
  name                 = "${var.name}-app"
  port                 = 3000
  protocol             = "HTTP"
  target_type          = "ip"
  vpc_id               = data.aws_vpc.default.id
  deregistration_delay = 30

  health_check {
    path                = "/"
    matcher             = "200-399"
    interval            = 30
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }
}

resource "aws_lb_listener" "http" {
  #checkov:skip=CKV_AWS_2:No domain was given, so there is no certificate for HTTPS.
  #checkov:skip=CKV_AWS_103:No HTTPS listener without a certificate (see CKV_AWS_2).
  load_balancer_arn = aws_lb.app.arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.app.arn
  }
}

# api: served under /api/ by the same load balancer.
resource "aws_lb_target_group" "api" {
  #checkov:skip=CKV_AWS_378:TLS would end at the load balancer; inside the VPC the app speaks HTTP.
  name                 = "${var.name}-tg1"
  port                 = 8000
  protocol             = "HTTP"
  target_type          = "ip"
  vpc_id               = data.aws_vpc.default.id
  deregistration_delay = 30

  health_check {
    # Health checks reach the task directly, so the app's own path (no prefix) applies.
    path                = "/health"
    matcher             = "200-399"
    interval            = 30
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }
}

resource "aws_lb_listener_rule" "api" {
  listener_arn = aws_lb_listener.http.arn
  priority     = 11

  action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.api.arn
  }

  condition {
    path_pattern {
      values = ["/api", "/api/*"]
    }
  }
}

# admin: served under /admin/ by the same load balancer.
resource "aws_lb_target_group" "admin" {
  #checkov:skip=CKV_AWS_378:TLS would end at the load balancer; inside the VPC the app speaks HTTP.
  name                 = "${var.name}-tg3"
  port                 = 8080
  protocol             = "HTTP"
  target_type          = "ip"
  vpc_id               = data.aws_vpc.default.id
  deregistration_delay = 30

  health_check {
    # Health checks reach the task directly, so the app's own path (no prefix) applies.
    path                = "/"
    matcher             = "200-399"
    interval            = 30
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }
}

resource "aws_lb_listener_rule" "admin" {
  listener_arn = aws_lb_listener.http.arn
  priority     = 13

  action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.admin.arn
  }

  condition {
    path_pattern {
      values = ["/admin", "/admin/*"]
    }
  }
}
