terraform {
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.0"
    }
  }

  # State: configure a remote backend for shared use, e.g.
  #   backend "s3" { bucket = "...", key = "srp/staging.tfstate", region = "...", encrypt = true, use_lockfile = true }
}

provider "aws" {
  region = var.region

  default_tags {
    tags = {
      Project     = "srp"
      Environment = "staging"
    }
  }
}
