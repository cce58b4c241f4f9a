variable "name" { type = string }
variable "cidrs" { type = list(string) }
variable "az_count" { type = number }

data "aws_availability_zones" "available" {
  state = "available"
}

resource "aws_vpc" "this" {
  cidr_block           = "10.0.0.0/16"
  enable_dns_hostnames = true
  tags                 = { Name = var.name }
}

resource "aws_subnet" "public" {
  count                   = var.az_count
  vpc_id                  = aws_vpc.this.id
  cidr_block              = var.cidrs[count.index]
  availability_zone       = data.aws_availability_zones.available.names[count.index % length(data.aws_availability_zones.available.names)]
  map_public_ip_on_launch = count.index < 2
  tags                    = { Name = "${var.name}-public-${count.index + 1}" }
}

output "subnet_ids" {
  value = aws_subnet.public[*].id
}
