"""Messages to patients: consents (consents), the outbox (outbox), what each says (content),
and sending them by WeChat or SMS (delivery)."""
