# One provider for AWS, LocalStack and any emulator: only the endpoints differ.
locals {
  emulated = var.endpoint_url != ""
}

provider "aws" {
  region = var.region

  # Emulators accept any credentials and have no instance metadata service or
  # account lookup; real AWS keeps every check.
  skip_credentials_validation = local.emulated
  skip_requesting_account_id  = local.emulated
  skip_metadata_api_check     = local.emulated
  skip_region_validation      = local.emulated
  s3_use_path_style           = local.emulated

  # Every service this stack touches: with an emulator they all point at one URL.
  dynamic "endpoints" {
    for_each = local.emulated ? [var.endpoint_url] : []
    content {
      cloudwatch = endpoints.value
      events     = endpoints.value
      iam        = endpoints.value
      kms        = endpoints.value
      lambda     = endpoints.value
      logs       = endpoints.value
      s3         = endpoints.value
      sns        = endpoints.value
      sqs        = endpoints.value
      sts        = endpoints.value
    }
  }

  default_tags {
    tags = merge({ Project = var.name_prefix, ManagedBy = "terraform" }, var.tags)
  }
}

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}
