# S3 event notifications. An upload under incoming/ (a .csv) starts inference; labels
# arriving under labels/ and a published _SUCCESS manifest start monitoring.
# S3 checks that it may invoke the function when the configuration is written, hence
# the permissions first.

locals {
  s3_triggers = {
    incoming_to_infer  = { bucket = "data", function = "infer", prefix = "incoming/", suffix = ".csv" }
    labels_to_monitor  = { bucket = "data", function = "monitor", prefix = "labels/", suffix = "" }
    success_to_monitor = { bucket = "predictions", function = "monitor", prefix = "", suffix = "_SUCCESS" }
  }

  # One permission per (bucket, function) pair.
  s3_trigger_permissions = {
    for pair in distinct([for t in values(local.s3_triggers) : "${t.bucket}-${t.function}"]) :
    pair => { bucket = split("-", pair)[0], function = split("-", pair)[1] }
  }
}

resource "aws_lambda_permission" "s3" {
  for_each = local.s3_trigger_permissions

  statement_id   = "AllowS3-${each.value.bucket}"
  action         = "lambda:InvokeFunction"
  function_name  = aws_lambda_function.this[each.value.function].function_name
  principal      = "s3.amazonaws.com"
  source_arn     = aws_s3_bucket.this[each.value.bucket].arn
  source_account = local.account_id
}

# S3 allows one notification configuration per bucket: one resource per bucket with triggers.
resource "aws_s3_bucket_notification" "this" {
  for_each = toset([for t in local.s3_triggers : t.bucket])

  bucket = aws_s3_bucket.this[each.key].id

  dynamic "lambda_function" {
    for_each = { for k, t in local.s3_triggers : k => t if t.bucket == each.key }
    content {
      id                  = lambda_function.key
      lambda_function_arn = aws_lambda_function.this[lambda_function.value.function].arn
      events              = ["s3:ObjectCreated:*"]
      filter_prefix       = lambda_function.value.prefix != "" ? lambda_function.value.prefix : null
      filter_suffix       = lambda_function.value.suffix != "" ? lambda_function.value.suffix : null
    }
  }

  depends_on = [aws_lambda_permission.s3]
}
