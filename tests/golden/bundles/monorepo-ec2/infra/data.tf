resource "aws_db_subnet_group" "main" {
  name       = "${var.name}-db"
  subnet_ids = data.aws_subnets.default.ids
}

resource "aws_security_group" "db" {
  name        = "${var.name}-db"
  description = "Database: reachable only from the app"
  vpc_id      = data.aws_vpc.default.id

  ingress {
    description     = "postgres from the app"
    from_port       = 5432
    to_port         = 5432
    protocol        = "tcp"
    security_groups = [aws_security_group.app.id]
  }
}

resource "aws_db_instance" "main" {
  #checkov:skip=CKV_AWS_157:Multi-AZ doubles the price; daily backups and a final snapshot protect the data.
  #checkov:skip=CKV_AWS_118:Enhanced monitoring costs extra; basic CloudWatch metrics are on.
  #checkov:skip=CKV_AWS_293:Deletion protection would block AutoStack's destroy; a final snapshot is kept.
  #checkov:skip=CKV_AWS_353:Performance Insights is not needed for a small app.
  #checkov:skip=CKV_AWS_354:Performance Insights is off (see CKV_AWS_353).
  #checkov:skip=CKV2_AWS_30:Query logging fills paid CloudWatch logs; error logs are exported.
  #checkov:skip=CKV2_AWS_69:TLS is available to clients; forcing it needs a custom parameter group.
  identifier        = var.name
  engine            = "postgres"
  engine_version    = "16"
  instance_class    = var.db_instance_class
  allocated_storage = var.db_storage_gb
  storage_type      = "gp3"
  storage_encrypted = true
  db_name           = "app"
  username          = "app"
  # RDS keeps the master password in Secrets Manager; it never appears here or in state.
  manage_master_user_password         = true
  db_subnet_group_name                = aws_db_subnet_group.main.name
  vpc_security_group_ids              = [aws_security_group.db.id]
  publicly_accessible                 = false
  multi_az                            = false
  backup_retention_period             = 7
  copy_tags_to_snapshot               = true
  auto_minor_version_upgrade          = true
  iam_database_authentication_enabled = true
  enabled_cloudwatch_logs_exports     = ["postgresql"]
  deletion_protection                 = false
  skip_final_snapshot                 = false
  final_snapshot_identifier           = "${var.name}-final"
}

resource "aws_elasticache_subnet_group" "cache" {
  name       = "${var.name}-cache"
  subnet_ids = data.aws_subnets.default.ids
}

resource "aws_security_group" "cache" {
  name        = "${var.name}-cache"
  description = "Redis: reachable only from the app"
  vpc_id      = data.aws_vpc.default.id

  ingress {
    description     = "Redis from the app"
    from_port       = 6379
    to_port         = 6379
    protocol        = "tcp"
    security_groups = [aws_security_group.app.id]
  }
}

resource "aws_elasticache_replication_group" "cache" {
  #checkov:skip=CKV2_AWS_50:Multi-AZ failover doubles the price; the cache can be rebuilt.
  #checkov:skip=CKV_AWS_191:Encrypted at rest with the AWS-managed key; a customer key costs $1/month.
  #checkov:skip=CKV_AWS_31:TLS is on and only the app's security group can connect; an AUTH token would have to be stored in state.
  replication_group_id       = var.name
  description                = "${var.name} cache"
  engine                     = "redis"
  engine_version             = "7.1"
  node_type                  = var.cache_node_type
  num_cache_clusters         = 1
  automatic_failover_enabled = false
  port                       = 6379
  subnet_group_name          = aws_elasticache_subnet_group.cache.name
  security_group_ids         = [aws_security_group.cache.id]
  at_rest_encryption_enabled = true
  transit_encryption_enabled = true
  snapshot_retention_limit   = 1
  auto_minor_version_upgrade = true
}
