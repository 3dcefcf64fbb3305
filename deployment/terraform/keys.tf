# Two customer-managed KMS keys:
#   model signing  asymmetric (ECC_NIST_P256, SIGN_VERIFY). Training signs a digest of each
#                  model version (ECDSA_SHA_256, MessageType DIGEST); every function that loads
#                  a model verifies it with KMS Verify before anything is deserialised. Only the
#                  train role may sign: its IAM policy (iam.tf) and, in case another principal is
#                  ever granted kms:Sign, a Deny in the key policy.
#   notifications  symmetric: encrypts the alarm, warnings and operators topics (SSE). CloudWatch
#                  alarms must be able to use it, or their notifications to the topics are dropped.
# Both key policies let the account administer the key (the "IAM policies decide" statement);
# the roles' own permissions are in iam.tf.

locals {
  account_root_arn = "arn:${local.partition}:iam::${local.account_id}:root"
}

data "aws_iam_policy_document" "model_signing_key" {
  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = [local.account_root_arn]
    }
  }

  # A signature must prove "written by training": nobody else may sign, whatever IAM says.
  statement {
    sid       = "OnlyTrainingSigns"
    effect    = "Deny"
    actions   = ["kms:Sign"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["*"]
    }
    condition {
      test     = "ArnNotEquals"
      variable = "aws:PrincipalArn"
      values   = [aws_iam_role.function["train"].arn]
    }
  }
}

resource "aws_kms_key" "model_signing" {
  description              = "${var.name_prefix}: signs model versions (train signs; train, infer and monitor verify)"
  key_usage                = "SIGN_VERIFY"
  customer_master_key_spec = "ECC_NIST_P256"
  deletion_window_in_days  = var.kms_key_deletion_window_days
  policy                   = data.aws_iam_policy_document.model_signing_key.json
}

resource "aws_kms_alias" "model_signing" {
  name          = "alias/${var.name_prefix}-model-signing"
  target_key_id = aws_kms_key.model_signing.key_id
}

data "aws_iam_policy_document" "notifications_key" {
  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = [local.account_root_arn]
    }
  }

  # An alarm publishing to an encrypted topic needs a data key from this key.
  statement {
    sid       = "CloudWatchAlarmsPublish"
    actions   = ["kms:GenerateDataKey*", "kms:Decrypt"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_kms_key" "notifications" {
  description             = "${var.name_prefix}: encrypts the alarm, warnings and operators SNS topics"
  enable_key_rotation     = true
  deletion_window_in_days = var.kms_key_deletion_window_days
  policy                  = data.aws_iam_policy_document.notifications_key.json
}

resource "aws_kms_alias" "notifications" {
  name          = "alias/${var.name_prefix}-notifications"
  target_key_id = aws_kms_key.notifications.key_id
}
