variable "name" {
  description = "Name of the scanner host; prefixes every resource and becomes its Name tag and inventory name."
  type        = string
  default     = "srp-scanner"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,40}$", var.name))
    error_message = "name must be 2-41 characters of lowercase letters, digits and dashes, starting with a letter."
  }
}

variable "vpc_id" {
  description = "VPC the host and its security group live in."
  type        = string
}

variable "subnet_id" {
  description = "Subnet for the host (a private subnet: the host gets no public address)."
  type        = string
}

variable "ssh_cidr" {
  description = "The only CIDR allowed to reach SSH (the Ansible controller / Jenkins host, or an admin VPN). Never 0.0.0.0/0."
  type        = string

  validation {
    condition     = can(cidrhost(var.ssh_cidr, 0)) && var.ssh_cidr != "0.0.0.0/0" && var.ssh_cidr != "::/0"
    error_message = "ssh_cidr must be a valid CIDR narrower than the whole Internet."
  }
}

variable "metrics_cidrs" {
  description = "CIDRs of the Prometheus hosts allowed to scrape srp-node-exporter (9100) and srp-disk-guard (9741). Empty: no metrics ingress."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.metrics_cidrs : can(cidrhost(c, 0)) && c != "0.0.0.0/0"])
    error_message = "metrics_cidrs must be valid CIDRs narrower than the whole Internet."
  }
}

variable "instance_type" {
  description = "EC2 instance type. Trivy and Gitleaks are single-process tools: a t3.micro is enough for one pipeline."
  type        = string
  default     = "t3.micro"

  validation {
    condition     = can(regex("^t3a?\\.", var.instance_type))
    error_message = "instance_type must be a burstable t3/t3a type (the module is sized and tested for those)."
  }
}

variable "ami_id" {
  description = "AMI to boot. Null: the newest official Debian 12 (bookworm) amd64 AMI, the platform the Ansible roles target."
  type        = string
  default     = null
}

variable "key_name" {
  description = "EC2 key pair for SSH (Ansible connects as admin with it)."
  type        = string
}

variable "root_volume_size" {
  description = "Root volume size in GiB (Trivy's vulnerability database and image layers need room)."
  type        = number
  default     = 16

  validation {
    condition     = var.root_volume_size >= 8 && var.root_volume_size <= 200
    error_message = "root_volume_size must be between 8 and 200 GiB."
  }
}

variable "kms_key_id" {
  description = "KMS key ARN for the root volume. Null: the account's default EBS key (aws/ebs)."
  type        = string
  default     = null
}

variable "trivy_version" {
  description = "Trivy version installed from Aqua Security's apt repository."
  type        = string
  default     = "0.58.1"

  validation {
    condition     = can(regex("^[0-9]+\\.[0-9]+\\.[0-9]+$", var.trivy_version))
    error_message = "trivy_version must look like 0.58.1."
  }
}

variable "gitleaks_version" {
  description = "Gitleaks version installed from its GitHub release (checksum-verified)."
  type        = string
  default     = "8.21.2"

  validation {
    condition     = can(regex("^[0-9]+\\.[0-9]+\\.[0-9]+$", var.gitleaks_version))
    error_message = "gitleaks_version must look like 8.21.2."
  }
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
