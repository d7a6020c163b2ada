"""Rule induction from normal footage, validation, and deduction by meaning (AnomalyRuler is the anchor)."""
