# What needs a person, not the breaker: the topics people read and the alarm on an invalid
# breaker state.
#   operators  what needs a person (BreakerStateInvalid).
#   warnings   what is worth a look but stops nothing: every rule's warning alarm (alarms.tf),
#              RuleVerdict >= 1 (drift, business and calibration rules, and the early signs of
#              the rules that trip). A warning is change, not harm.
# The functions put BreakerStateInvalid = 1 whenever they find breaker/state.json missing,
# unparseable or in an unknown state. They then hold every batch (fail closed) until an
# operator repairs the state with an explicit breaker action, so this alarm notifies the
# operators topic only: the breaker cannot repair an unknown state itself.

module "email_topic" {
  source   = "./modules/email_topic"
  for_each = { operators = var.operator_email_addresses, warnings = var.warning_email_addresses }

  name            = "${var.name_prefix}-${each.key}"
  kms_key_arn     = aws_kms_key.notifications.arn
  policy          = data.aws_iam_policy_document.topic_publish[each.key].json
  email_addresses = each.value
}

# Their addresses before the two topics shared the module: a state applied then keeps them
# (and the subscriptions their addresses confirmed).
moved {
  from = aws_sns_topic.operators
  to   = module.email_topic["operators"].aws_sns_topic.this
}

moved {
  from = aws_sns_topic_policy.operators
  to   = module.email_topic["operators"].aws_sns_topic_policy.this
}

moved {
  from = aws_sns_topic_subscription.operator_email
  to   = module.email_topic["operators"].aws_sns_topic_subscription.email
}

moved {
  from = aws_sns_topic.warnings
  to   = module.email_topic["warnings"].aws_sns_topic.this
}

moved {
  from = aws_sns_topic_policy.warnings
  to   = module.email_topic["warnings"].aws_sns_topic_policy.this
}

moved {
  from = aws_sns_topic_subscription.warning_email
  to   = module.email_topic["warnings"].aws_sns_topic_subscription.email
}

locals {
  # Alarms that page a person: each watches a metric a function puts (>= 1 in one period).
  operator_alarms = {
    BreakerStateInvalid = {
      period      = var.breaker_state_invalid_period_s
      description = "A function found breaker/state.json missing, unparseable or unknown: every batch is held until an operator repairs the state (deployment/README.md)."
    }
    HeldTooLong = {
      period      = var.held_too_long_period_s
      description = "Batches held past breaker.max_hold_hours stay held (hold_fallback page, broken inputs or an unknown breaker state): extend, release or correct them (deployment/README.md)."
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "operators" {
  for_each = local.operator_alarms

  alarm_name          = "${var.name_prefix}-${var.model_name}-${each.key}"
  alarm_description   = each.value.description
  namespace           = local.metric_namespace
  metric_name         = each.key
  dimensions          = { ModelName = var.model_name }
  statistic           = "Maximum"
  period              = each.value.period
  evaluation_periods  = 1
  datapoints_to_alarm = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = 1
  treat_missing_data  = "notBreaching"
  # Never the alarm topic: the breaker cannot repair a state it cannot read nor correct a
  # batch's inputs. No OK action: OK only means nothing was found during the last period.
  alarm_actions = [module.email_topic["operators"].arn]
}

moved {
  from = aws_cloudwatch_metric_alarm.breaker_state_invalid
  to   = aws_cloudwatch_metric_alarm.operators["BreakerStateInvalid"]
}
