# Staging: the security-scanning host beside the application host. The
# application host reaches it over the private network: Ansible (run by
# Jenkins) over SSH, Prometheus for the agents' metrics.
module "scanner" {
  source = "../modules/scanner_host"

  name          = "srp-scanner-staging"
  vpc_id        = var.vpc_id
  subnet_id     = var.subnet_id
  ssh_cidr      = var.app_host_cidr
  metrics_cidrs = [var.app_host_cidr]
  key_name      = var.key_name

  tags = {
    Environment = "staging"
  }
}
