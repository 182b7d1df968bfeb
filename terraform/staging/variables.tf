variable "region" {
  description = "AWS region of the staging estate."
  type        = string
  default     = "eu-west-1"
}

variable "vpc_id" {
  description = "VPC of the staging application host."
  type        = string
}

variable "subnet_id" {
  description = "Private subnet for the scanner host."
  type        = string
}

variable "app_host_cidr" {
  description = "CIDR of the application host (Jenkins runs Ansible and Prometheus from there), e.g. 10.0.1.10/32."
  type        = string
}

variable "key_name" {
  description = "EC2 key pair Ansible uses."
  type        = string
}
