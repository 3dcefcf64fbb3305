# EventBridge schedules. The inference rescan is "the inference trigger": the circuit
# breaker disables it at run time, so Terraform ignores its state after creation
# (a later apply must not silently re-enable a rule the breaker switched off).

resource "aws_cloudwatch_event_rule" "training" {
  name                = local.rule_names.training
  description         = "Daily training run of ${local.function_names.train}"
  schedule_expression = var.training_schedule
  state               = "ENABLED"
}

resource "aws_cloudwatch_event_rule" "inference" {
  name                = local.rule_names.inference
  description         = "Inference rescan by ${local.function_names.infer}; the circuit breaker disables it while OPEN"
  schedule_expression = var.inference_schedule
  state               = "ENABLED"

  lifecycle {
    ignore_changes = [state]
  }
}

resource "aws_cloudwatch_event_rule" "monitoring" {
  name                = local.rule_names.monitoring
  description         = "Monitoring sweep by ${local.function_names.monitor}"
  schedule_expression = var.monitoring_schedule
  state               = "ENABLED"
}

resource "aws_cloudwatch_event_rule" "hold_sweep" {
  name                = local.rule_names.hold_sweep
  description         = "Hold-limit sweep by ${local.function_names.infer}; runs while the breaker keeps the inference rescan disabled"
  schedule_expression = var.hold_sweep_schedule
  state               = "ENABLED"
}

locals {
  schedule_targets = {
    training   = { rule = aws_cloudwatch_event_rule.training, function = "train", input = null }
    inference  = { rule = aws_cloudwatch_event_rule.inference, function = "infer", input = null }
    monitoring = { rule = aws_cloudwatch_event_rule.monitoring, function = "monitor", input = null }
    hold_sweep = {
      rule     = aws_cloudwatch_event_rule.hold_sweep
      function = "infer"
      input    = jsonencode({ action = "sweep_holds" })
    }
  }
}

resource "aws_cloudwatch_event_target" "schedule" {
  for_each = local.schedule_targets

  rule      = each.value.rule.name
  target_id = "${each.value.function}-function"
  arn       = aws_lambda_function.this[each.value.function].arn
  input     = each.value.input
}

resource "aws_lambda_permission" "schedule" {
  for_each = local.schedule_targets

  statement_id  = "AllowEventBridge-${each.key}"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this[each.value.function].function_name
  principal     = "events.amazonaws.com"
  source_arn    = each.value.rule.arn
}
