# The security-scanning host: Trivy and Gitleaks on a small Debian 12
# instance, reachable only by SSH from one CIDR (and, optionally, scraped by
# Prometheus), IMDSv2 only, encrypted root volume, no public address.

data "aws_ami" "debian" {
  count       = var.ami_id == null ? 1 : 0
  most_recent = true
  owners      = ["136693071363"] # Debian's official AWS account

  filter {
    name   = "name"
    values = ["debian-12-amd64-*"]
  }

  filter {
    name   = "architecture"
    values = ["x86_64"]
  }
}

locals {
  ami_id = var.ami_id != null ? var.ami_id : data.aws_ami.debian[0].id
  tags   = merge({ Name = var.name, Component = "srp-scanner", ManagedBy = "terraform" }, var.tags)
}

resource "aws_security_group" "scanner" {
  name_prefix = "${var.name}-"
  description = "SRP scanner host: SSH from one CIDR, optional metrics scrapes, egress for packages and scanner databases"
  vpc_id      = var.vpc_id
  tags        = local.tags

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "ssh" {
  security_group_id = aws_security_group.scanner.id
  description       = "SSH from the Ansible controller or admin network only"
  cidr_ipv4         = var.ssh_cidr
  ip_protocol       = "tcp"
  from_port         = 22
  to_port           = 22
  tags              = local.tags
}

resource "aws_vpc_security_group_ingress_rule" "metrics" {
  for_each = {
    for pair in setproduct(var.metrics_cidrs, [9100, 9741]) : "${pair[0]}-${pair[1]}" => { cidr = pair[0], port = pair[1] }
  }

  security_group_id = aws_security_group.scanner.id
  description       = "Prometheus scrapes srp-node-exporter (9100) and srp-disk-guard (9741)"
  cidr_ipv4         = each.value.cidr
  ip_protocol       = "tcp"
  from_port         = each.value.port
  to_port           = each.value.port
  tags              = local.tags
}

# Egress only for what the scanners fetch: Debian and Aqua apt repositories,
# GitHub releases, Trivy's vulnerability database (ghcr.io) and the images to
# scan. DNS and NTP go to the VPC resolver, which security groups do not filter.
resource "aws_vpc_security_group_egress_rule" "https" {
  security_group_id = aws_security_group.scanner.id
  description       = "HTTPS: scanner databases, GitHub releases, registries"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  tags              = local.tags
}

resource "aws_vpc_security_group_egress_rule" "http" {
  security_group_id = aws_security_group.scanner.id
  description       = "HTTP: Debian's apt mirrors (packages are signature-checked by apt)"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 80
  to_port           = 80
  tags              = local.tags
}

# The instance role: the host's only AWS API use is srp-disk-guard growing
# its own EBS volume (off by default, see agents/disk-guard/README.md).
data "aws_iam_policy_document" "assume_ec2" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "scanner" {
  name_prefix        = "${var.name}-"
  assume_role_policy = data.aws_iam_policy_document.assume_ec2.json
  tags               = local.tags
}

# Nothing broader than growing this host's volumes: the Describe calls are
# read-only and take no resource-level scope in IAM; ModifyVolume only on
# volumes carrying this module's tags (volume_tags below), and only when the
# call comes from an EC2 instance's role credentials.
data "aws_iam_policy_document" "grow_own_volumes" {
  statement {
    sid       = "DescribeVolumes"
    actions   = ["ec2:DescribeVolumes", "ec2:DescribeVolumesModifications"]
    resources = ["*"]
  }

  statement {
    sid       = "ModifyOwnVolumes"
    actions   = ["ec2:ModifyVolume"]
    resources = ["arn:aws:ec2:*:*:volume/*"]

    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/Name"
      values   = [var.name]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/Component"
      values   = ["srp-scanner"]
    }

    condition {
      test     = "Null"
      variable = "ec2:SourceInstanceARN"
      values   = ["false"]
    }
  }
}

resource "aws_iam_role_policy" "grow_own_volumes" {
  name   = "srp-disk-guard-grow-own-volumes"
  role   = aws_iam_role.scanner.id
  policy = data.aws_iam_policy_document.grow_own_volumes.json
}

resource "aws_iam_instance_profile" "scanner" {
  name_prefix = "${var.name}-"
  role        = aws_iam_role.scanner.name
  tags        = local.tags
}

resource "aws_instance" "scanner" {
  ami                         = local.ami_id
  instance_type               = var.instance_type
  subnet_id                   = var.subnet_id
  vpc_security_group_ids      = [aws_security_group.scanner.id]
  key_name                    = var.key_name
  iam_instance_profile        = aws_iam_instance_profile.scanner.name
  associate_public_ip_address = false
  monitoring                  = true
  ebs_optimized               = true

  user_data_base64 = base64encode(templatefile("${path.module}/user_data.sh.tftpl", {
    trivy_version    = var.trivy_version
    gitleaks_version = var.gitleaks_version
  }))
  user_data_replace_on_change = true

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required" # IMDSv2 only
    http_put_response_hop_limit = 1
    instance_metadata_tags      = "disabled"
  }

  root_block_device {
    volume_type           = "gp3"
    volume_size           = var.root_volume_size
    encrypted             = true
    kms_key_id            = var.kms_key_id
    delete_on_termination = true
  }

  credit_specification {
    cpu_credits = "standard"
  }

  tags        = local.tags
  volume_tags = local.tags

  lifecycle {
    ignore_changes = [ami]
  }
}
