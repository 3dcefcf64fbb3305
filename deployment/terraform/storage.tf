# Five buckets, all private, encrypted at rest and versioned:
#   data         training/ incoming/ labels/ held/ quarantine/
#   models       models/<name>/<version>/..., models/<name>/aliases.json
#   predictions  predictions/<batch_id>/..., probation/<batch_id>/...
#   monitoring   reports/, breaker/
#   artifacts    the Lambda zips and the layer (larger than the 50 MB direct upload)

resource "aws_s3_bucket" "this" {
  for_each = local.bucket_keys

  bucket        = local.bucket_names[each.key]
  force_destroy = var.force_destroy_buckets
  tags          = { Purpose = each.key }
}

resource "aws_s3_bucket_public_access_block" "this" {
  for_each = aws_s3_bucket.this

  bucket                  = each.value.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  for_each = aws_s3_bucket.this

  bucket = each.value.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_versioning" "this" {
  for_each = aws_s3_bucket.this

  bucket = each.value.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_ownership_controls" "this" {
  for_each = aws_s3_bucket.this

  bucket = each.value.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

# Versioning keeps every overwrite; expire the old versions after a while.
# (0 days = no rule. The provider waits ~1 min for a lifecycle rule to settle, on AWS
# and emulators alike; deploy.py skips it on throwaway emulators.)
resource "aws_s3_bucket_lifecycle_configuration" "this" {
  for_each = var.noncurrent_version_retention_days > 0 ? aws_s3_bucket.this : {}

  bucket = each.value.id
  rule {
    id     = "expire-noncurrent-versions"
    status = "Enabled"
    filter {
      prefix = ""
    }
    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_retention_days
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  depends_on = [aws_s3_bucket_versioning.this]
}

# Deny plain-HTTP access to every bucket.
data "aws_iam_policy_document" "tls_only" {
  for_each = aws_s3_bucket.this

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [each.value.arn, "${each.value.arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "tls_only" {
  # Emulators serve plain HTTP: the policy would lock the handlers out there.
  for_each = local.emulated ? {} : aws_s3_bucket.this

  bucket = each.value.id
  policy = data.aws_iam_policy_document.tls_only[each.key].json

  depends_on = [aws_s3_bucket_public_access_block.this]
}

# --- deployment artifacts: content-addressed keys, so a new build is a new object ---

resource "aws_s3_object" "layer" {
  count = local.use_layer ? 1 : 0

  bucket      = aws_s3_bucket.this["artifacts"].id
  key         = "layers/dependencies-${var.packages.layer.sha256}.zip"
  source      = var.packages.layer.path
  source_hash = var.packages.layer.sha256

  depends_on = [aws_s3_bucket_versioning.this, aws_s3_bucket_server_side_encryption_configuration.this]
}

# One object per distinct zip: the four functions may share one code package.
resource "aws_s3_object" "function_code" {
  for_each = { for fn, pkg in local.function_packages : pkg.sha256 => pkg.path... }

  bucket      = aws_s3_bucket.this["artifacts"].id
  key         = "functions/${var.packaging}/${each.key}.zip"
  source      = each.value[0]
  source_hash = each.key

  depends_on = [aws_s3_bucket_versioning.this, aws_s3_bucket_server_side_encryption_configuration.this]
}
