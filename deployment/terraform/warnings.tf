# What a person should look at but nothing stops for: the warnings topic and a warning alarm
# per rule (RuleVerdict >= 1: drift, business and calibration rules, and the early signs of
# the rules that trip). Never the breaker: a warning is change, not harm.

resource "aws_sns_topic" "warnings" {
  name              = "${var.name_prefix}-warnings"
  kms_master_key_id = aws_kms_key.notifications.arn
}

resource "aws_sns_topic_policy" "warnings" {
  arn    = aws_sns_topic.warnings.arn
  policy = data.aws_iam_policy_document.topic_publish["warnings"].json
}

# E-mail subscriptions stay pending until the address confirms them.
resource "aws_sns_topic_subscription" "warning_email" {
  for_each = toset(var.warning_email_addresses)

  topic_arn = aws_sns_topic.warnings.arn
  protocol  = "email"
  endpoint  = each.value
}

resource "aws_cloudwatch_metric_alarm" "warning" {
  for_each = var.rules

  alarm_name          = "${var.name_prefix}-${var.model_name}-${each.key}-warning"
  alarm_description   = "${each.key} at warning level or above (${each.value.description}): worth a look; nothing is stopped."
  namespace           = local.metric_namespace
  metric_name         = "RuleVerdict"
  dimensions          = { ModelName = var.model_name, Rule = each.key }
  statistic           = "Maximum"
  period              = var.verdict_period_s
  evaluation_periods  = 1
  datapoints_to_alarm = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.warnings.arn]
}
