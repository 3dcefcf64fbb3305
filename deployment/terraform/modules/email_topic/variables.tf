variable "name" {
  description = "Topic name."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key encrypting the topic (server-side)."
  type        = string
}

variable "policy" {
  description = "Topic policy (JSON): who may publish."
  type        = string
}

variable "email_addresses" {
  description = "Addresses subscribed to the topic; each must confirm its subscription."
  type        = list(string)
}
