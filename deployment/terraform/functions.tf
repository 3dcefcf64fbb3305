# The four functions, their dependency layer, log groups and dead-letter queues.
# Code and layer are uploaded through the artifacts bucket (storage.tf): the layer is
# larger than Lambda's 50 MB direct-upload limit.

resource "aws_lambda_layer_version" "dependencies" {
  count = local.use_layer ? 1 : 0

  layer_name               = "${var.name_prefix}-dependencies"
  description              = "pandas, scikit-learn, joblib, PyYAML for python3.11 x86_64"
  s3_bucket                = aws_s3_object.layer[0].bucket
  s3_key                   = aws_s3_object.layer[0].key
  source_code_hash         = var.packages.layer.base64sha256
  compatible_runtimes      = ["python3.11"]
  compatible_architectures = ["x86_64"]
}

resource "aws_cloudwatch_log_group" "function" {
  for_each = local.function_keys

  name              = "/aws/lambda/${local.function_names[each.key]}"
  retention_in_days = var.log_retention_days
}

resource "aws_sqs_queue" "dead_letter" {
  for_each = local.function_keys

  name                      = local.dead_letter_queue_names[each.key]
  message_retention_seconds = var.dlq_message_retention_s
  sqs_managed_sse_enabled   = true
}

locals {
  common_environment = merge(
    {
      DATA_BUCKET        = aws_s3_bucket.this["data"].id
      MODEL_BUCKET       = aws_s3_bucket.this["models"].id
      PREDICTIONS_BUCKET = aws_s3_bucket.this["predictions"].id
      MONITORING_BUCKET  = aws_s3_bucket.this["monitoring"].id
      LOG_LEVEL          = var.log_level
      OMP_NUM_THREADS    = tostring(var.omp_num_threads)
    },
    var.function_endpoint_url != "" ? { AWS_ENDPOINT_URL = var.function_endpoint_url } : {},
    var.extra_environment,
  )

  # Names each function needs of the others (docs/CONTRACTS.md, "Handler environment"), and
  # the model signing key (keys.tf) for those that sign or verify model versions.
  function_environment = {
    train = {
      BREAKER_FUNCTION_NAME = local.function_names.breaker
      MODEL_SIGNING_KEY_ID  = aws_kms_key.model_signing.arn
    }
    infer = {
      BREAKER_FUNCTION_NAME    = local.function_names.breaker
      MODEL_SIGNING_KEY_ID     = aws_kms_key.model_signing.arn
      MLCYCLE_SHARD_BYTES      = tostring(var.infer_shard_bytes)
      MLCYCLE_MAX_SHARDS       = tostring(var.infer_max_shards)
      MLCYCLE_SHARD_DEADLINE_S = tostring(var.infer_shard_deadline_s)
      # glibc: a fixed mmap threshold returns each freed chunk buffer to the system (the
      # dynamic one kept them in a fragmented heap: RSS grew ~35 MB per million rows); two
      # arenas for the reading and uploading threads.
      MALLOC_MMAP_THRESHOLD_ = "131072"
      MALLOC_ARENA_MAX       = "2"
    }
    monitor = {
      BREAKER_FUNCTION_NAME = local.function_names.breaker
      MODEL_SIGNING_KEY_ID  = aws_kms_key.model_signing.arn
    }
    breaker = {
      INFERENCE_RULE_NAME = local.rule_names.inference
      TRAIN_FUNCTION_NAME = local.function_names.train
      INFER_FUNCTION_NAME = local.function_names.infer
    }
  }
}

resource "aws_lambda_function" "this" {
  for_each = local.function_keys

  function_name = local.function_names[each.key]
  description   = "MLCycle ${each.key} (${var.packaging} packaging)"
  role          = aws_iam_role.function[each.key].arn
  runtime       = "python3.11"
  architectures = ["x86_64"]
  handler       = "handlers.${each.key}.handler"
  memory_size   = local.function_settings[each.key].memory_mb
  timeout       = local.function_settings[each.key].timeout_s

  s3_bucket        = aws_s3_object.function_code[local.function_packages[each.key].sha256].bucket
  s3_key           = aws_s3_object.function_code[local.function_packages[each.key].sha256].key
  source_code_hash = local.function_packages[each.key].base64sha256
  layers           = local.use_layer ? [aws_lambda_layer_version.dependencies[0].arn] : []

  # The breaker always has room to run (and never more than that); infer is capped (its
  # shards queue beyond the cap); train and monitor share the account's unreserved pool.
  reserved_concurrent_executions = lookup(
    { breaker = var.breaker_reserved_concurrency, infer = var.infer_reserved_concurrency },
    each.key,
    -1,
  )

  # /tmp: infer spills key hashes and large attribute sources there (flat memory).
  ephemeral_storage {
    size = each.key == "infer" ? var.infer_ephemeral_storage_mb : 512
  }

  environment {
    variables = merge(local.common_environment, local.function_environment[each.key])
  }

  lifecycle {
    precondition {
      condition     = contains(keys(local.function_packages), each.key)
      error_message = "packages: no ${var.packaging} zip for ${each.key} (run `make package`)."
    }
  }

  # Its permissions are in place before its first invocation.
  depends_on = [aws_cloudwatch_log_group.function, aws_iam_role_policy.function]
}

# Asynchronous invocations (S3, EventBridge, SNS, InvokeFunction with Event) that still
# fail after the retries land in the function's dead-letter queue.
resource "aws_lambda_function_event_invoke_config" "this" {
  for_each = local.function_keys

  function_name                = aws_lambda_function.this[each.key].function_name
  maximum_retry_attempts       = var.async_max_retry_attempts
  maximum_event_age_in_seconds = var.async_max_event_age_s

  destination_config {
    on_failure {
      destination = aws_sqs_queue.dead_letter[each.key].arn
    }
  }
}
