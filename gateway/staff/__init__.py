"""What staff can do about a decision: justify a warning, get a redacted copy, reach the helpdesk (webhook)."""
