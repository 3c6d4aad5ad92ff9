"""Detection: our rules (signatures/), detect-secrets as the heuristic core, history, config."""
