# What needs a person, not the breaker: the operators topic and the alarm on an invalid
# breaker state. The functions put BreakerStateInvalid = 1 whenever they find
# breaker/state.json missing, unparseable or in an unknown state. They then hold every batch
# (fail closed) until an operator repairs the state with an explicit breaker action, so this
# alarm notifies the operators topic only: the breaker cannot repair an unknown state itself.

resource "aws_sns_topic" "operators" {
  name              = "${var.name_prefix}-operators"
  kms_master_key_id = aws_kms_key.notifications.arn
}

resource "aws_sns_topic_policy" "operators" {
  arn    = aws_sns_topic.operators.arn
  policy = data.aws_iam_policy_document.topic_publish["operators"].json
}

# E-mail subscriptions stay pending until the address confirms them.
resource "aws_sns_topic_subscription" "operator_email" {
  for_each = toset(var.operator_email_addresses)

  topic_arn = aws_sns_topic.operators.arn
  protocol  = "email"
  endpoint  = each.value
}

resource "aws_cloudwatch_metric_alarm" "breaker_state_invalid" {
  alarm_name          = "${var.name_prefix}-${var.model_name}-BreakerStateInvalid"
  alarm_description   = "A function found breaker/state.json missing, unparseable or unknown: every batch is held until an operator repairs the state (deployment/README.md)."
  namespace           = local.metric_namespace
  metric_name         = "BreakerStateInvalid"
  dimensions          = { ModelName = var.model_name }
  statistic           = "Maximum"
  period              = var.breaker_state_invalid_period_s
  evaluation_periods  = 1
  datapoints_to_alarm = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = 1
  treat_missing_data  = "notBreaching"
  # Never the alarm topic: the breaker would only be asked to act on a state it cannot read.
  # No OK action: OK only means no function looked during the last period, not a repair.
  alarm_actions = [aws_sns_topic.operators.arn]
}
