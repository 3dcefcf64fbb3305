# One role per function, least privilege: each may touch only the bucket prefixes,
# rule, functions, queue and key uses it needs. The table `s3_access` is the whole S3 story:
#   function -> list of { bucket, prefixes, read (get; in the data bucket also a pinned
#   version), write (put), delete (object patterns it may delete) }.
# Delete only where objects are moved (copy, then delete the original) or released (leases,
# attempt counters); the buckets are versioned, so a put never destroys what it replaces.
# breaker/ (the breaker's state and event log) is written by the breaker only: every other
# function reads it and fails closed on what it finds. limits/ (the window of recent batches)
# is written by the monitor and by the breaker for an operator's accepted shift.

locals {
  s3_access = {
    train = [
      # held/ too: a retrain after the breaker opened learns from the labelled batches it holds.
      { bucket = "data", prefixes = ["training/", "incoming/", "held/", "labels/"], read = true, write = false, delete = [] },
      { bucket = "models", prefixes = ["models/"], read = true, write = true, delete = [] },
      # a promotion while the breaker is not CLOSED is reported to the breaker.
      { bucket = "monitoring", prefixes = ["breaker/"], read = true, write = false, delete = [] },
    ]
    infer = [
      # held/ is read too: in HALF_OPEN the breaker asks infer to re-score held batches.
      # incoming/ and held/ batches are moved (to held/ or quarantine/); quarantine/ only receives.
      { bucket = "data", prefixes = ["incoming/", "held/"], read = true, write = true, delete = ["incoming/*", "held/*"] },
      { bucket = "data", prefixes = ["quarantine/"], read = true, write = true, delete = [] },
      { bucket = "models", prefixes = ["models/"], read = true, write = false, delete = [] },
      # read as well as write: deterministic keys, a re-delivered event checks what exists;
      # delete: the one-scorer lease (<batch_id>/_LEASE) is released by deleting it; a sharded
      # batch's work files (key hashes, and parts never published) go once it is finished.
      { bucket = "predictions", prefixes = ["predictions/", "probation/"], read = true, write = true, delete = ["predictions/*/_LEASE", "probation/*/_LEASE", "predictions/*/shards/*"] },
      { bucket = "monitoring", prefixes = ["breaker/"], read = true, write = false, delete = [] },
      # the gate judges a batch against the monitor's window of recent batches.
      { bucket = "monitoring", prefixes = ["limits/"], read = true, write = false, delete = [] },
      # per-batch attempt counters: a batch that keeps failing is quarantined, not retried forever.
      { bucket = "monitoring", prefixes = ["failures/"], read = true, write = true, delete = ["failures/*"] },
    ]
    monitor = [
      { bucket = "data", prefixes = ["incoming/", "labels/", "held/"], read = true, write = false, delete = [] },
      { bucket = "models", prefixes = ["models/"], read = true, write = false, delete = [] },
      { bucket = "predictions", prefixes = ["predictions/", "probation/"], read = true, write = false, delete = [] },
      # reports and run markers: read back by the scheduled sweep to skip batches already reported.
      # a run marker is deleted when its run fails, so the retried delivery runs.
      { bucket = "monitoring", prefixes = ["reports/"], read = true, write = true, delete = ["reports/_runs/*"] },
      { bucket = "monitoring", prefixes = ["breaker/"], read = true, write = false, delete = [] },
      # the window of recent batches: each judged batch is added (a conditional write).
      { bucket = "monitoring", prefixes = ["limits/"], read = true, write = true, delete = [] },
    ]
    breaker = [
      { bucket = "monitoring", prefixes = ["breaker/"], read = true, write = true, delete = [] },
      # an operator's accepted shift is written into the window (accept_shift).
      { bucket = "monitoring", prefixes = ["limits/"], read = true, write = true, delete = [] },
      # the champion (aliases.json): recorded with a trip, and checked against a promotion claim.
      { bucket = "models", prefixes = ["models/"], read = true, write = false, delete = [] },
      # an operator's rollback moves the champion alias (aliases.json only).
      { bucket = "models", prefixes = ["models/${var.model_name}/aliases.json"], read = false, write = true, delete = [] },
      # a batch that breaches on probation is moved from incoming/ to held/.
      { bucket = "data", prefixes = ["incoming/", "held/"], read = true, write = true, delete = ["incoming/*", "held/*"] },
      # probation output is published: probation/ -> predictions/ (a copy).
      { bucket = "predictions", prefixes = ["predictions/", "probation/"], read = true, write = true, delete = [] },
    ]
  }

  # What each function may do with the model signing key (keys.tf). Train signs new versions
  # and verifies the champion it compares them with; infer and monitor only verify.
  model_signing_actions = {
    train   = ["kms:Sign", "kms:Verify"]
    infer   = ["kms:Verify"]
    monitor = ["kms:Verify"]
    breaker = []
  }

  # Which functions each function may invoke. Infer's gate waits for the breaker's answer
  # before it holds a batch; every other call is asynchronous.
  invokes = {
    train   = ["breaker"]
    infer   = ["breaker", "infer"] # infer: a large batch's shards are its own async invocations
    monitor = ["breaker"]
    breaker = ["train", "infer"]
  }

  # ARNs built from names: the policies need not wait for the functions and rule.
  function_arns      = { for fn in local.function_keys : fn => "arn:${local.partition}:lambda:${var.region}:${local.account_id}:function:${local.function_names[fn]}" }
  inference_rule_arn = "arn:${local.partition}:events:${var.region}:${local.account_id}:rule/${local.rule_names.inference}"

  # Flatten into one statement list per function.
  s3_statements = {
    for fn, grants in local.s3_access : fn => flatten([
      for i, g in grants : concat(
        [{
          sid       = "List${title(g.bucket)}${i}"
          actions   = ["s3:ListBucket"]
          resources = [aws_s3_bucket.this[g.bucket].arn]
          prefixes  = [for p in g.prefixes : "${p}*"]
        }],
        # GetObjectVersion: inputs are read by the version id a manifest recorded.
        g.read ? [{
          sid       = "Read${title(g.bucket)}${i}"
          actions   = g.bucket == "data" ? ["s3:GetObject", "s3:GetObjectVersion"] : ["s3:GetObject"]
          resources = [for p in g.prefixes : "${aws_s3_bucket.this[g.bucket].arn}/${p}*"]
          prefixes  = []
        }] : [],
        g.write ? [{
          sid       = "Write${title(g.bucket)}${i}"
          actions   = ["s3:PutObject"]
          resources = [for p in g.prefixes : "${aws_s3_bucket.this[g.bucket].arn}/${p}*"]
          prefixes  = []
        }] : [],
        length(g.delete) > 0 ? [{
          sid       = "Delete${title(g.bucket)}${i}"
          actions   = ["s3:DeleteObject"]
          resources = [for p in g.delete : "${aws_s3_bucket.this[g.bucket].arn}/${p}"]
          prefixes  = []
        }] : [],
      )
    ])
  }
}

data "aws_iam_policy_document" "lambda_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "function" {
  for_each = local.function_keys

  name               = "${local.function_names[each.key]}-role"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
}

data "aws_iam_policy_document" "function" {
  for_each = local.function_keys

  # Its own log group only.
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["arn:${local.partition}:logs:${var.region}:${local.account_id}:log-group:/aws/lambda/${local.function_names[each.key]}:*"]
  }

  # Failed asynchronous events go to its own dead-letter queue. (The ARN is built from the
  # name: queue creation waits ~25 s for its attributes to settle; the functions need not.)
  statement {
    sid       = "DeadLetterQueue"
    actions   = ["sqs:SendMessage"]
    resources = ["arn:${local.partition}:sqs:${var.region}:${local.account_id}:${local.dead_letter_queue_names[each.key]}"]
  }

  dynamic "statement" {
    for_each = local.s3_statements[each.key]
    content {
      sid       = statement.value.sid
      actions   = statement.value.actions
      resources = statement.value.resources
      dynamic "condition" {
        for_each = length(statement.value.prefixes) > 0 ? [1] : []
        content {
          # IfExists: GetObject/HeadObject of a missing key asks for ListBucket without a
          # prefix; S3 then answers 404 (the handlers rely on it) instead of 403.
          test     = "StringLikeIfExists"
          variable = "s3:prefix"
          values   = statement.value.prefixes
        }
      }
    }
  }

  # Every function may publish metrics (all of them report BreakerStateInvalid), only into
  # the model's namespace.
  statement {
    sid       = "PutMetrics"
    actions   = ["cloudwatch:PutMetricData"]
    resources = ["*"] # PutMetricData supports no resource ARNs; the namespace condition scopes it.
    condition {
      test     = "StringEquals"
      variable = "cloudwatch:namespace"
      values   = [local.metric_namespace]
    }
  }

  # Sign or verify model versions, with the signing key only.
  dynamic "statement" {
    for_each = length(local.model_signing_actions[each.key]) > 0 ? [1] : []
    content {
      sid       = "ModelSigningKey"
      actions   = local.model_signing_actions[each.key]
      resources = [aws_kms_key.model_signing.arn]
    }
  }

  # The breaker switches the inference trigger.
  dynamic "statement" {
    for_each = each.key == "breaker" ? [1] : []
    content {
      sid       = "SwitchInferenceTrigger"
      actions   = ["events:EnableRule", "events:DisableRule", "events:DescribeRule"]
      resources = [local.inference_rule_arn]
    }
  }

  # Requests between functions (retrain, re-score held batches, probation verdicts, gate trips).
  dynamic "statement" {
    for_each = length(local.invokes[each.key]) > 0 ? [1] : []
    content {
      sid       = "InvokeFunctions"
      actions   = ["lambda:InvokeFunction"]
      resources = flatten([for fn in local.invokes[each.key] : [local.function_arns[fn], "${local.function_arns[fn]}:*"]])
    }
  }
}

resource "aws_iam_role_policy" "function" {
  for_each = local.function_keys

  name   = "${local.function_names[each.key]}-access"
  role   = aws_iam_role.function[each.key].id
  policy = data.aws_iam_policy_document.function[each.key].json
}
