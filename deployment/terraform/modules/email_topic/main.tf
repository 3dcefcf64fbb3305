# A topic people read rather than the breaker: encrypted, with the publish policy the caller
# gives, and an e-mail subscription per address. The root module has one per audience
# (operators.tf): keeping the subscriptions here, keyed by address as before, lets a state
# applied before the module move them without a new confirmation mail to anyone.

resource "aws_sns_topic" "this" {
  name              = var.name
  kms_master_key_id = var.kms_key_arn
}

resource "aws_sns_topic_policy" "this" {
  arn    = aws_sns_topic.this.arn
  policy = var.policy
}

# E-mail subscriptions stay pending until the address confirms them.
resource "aws_sns_topic_subscription" "email" {
  for_each = toset(var.email_addresses)

  topic_arn = aws_sns_topic.this.arn
  protocol  = "email"
  endpoint  = each.value
}
