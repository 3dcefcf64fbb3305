# Terraform and provider versions. The state backend is local; `deploy.py` points it
# at a per-endpoint directory with `-backend-config=path=...` so that a throwaway
# emulator never shares state with a real deployment.
terraform {
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.100.0, < 6.0.0"
    }
  }

  backend "local" {}
}
