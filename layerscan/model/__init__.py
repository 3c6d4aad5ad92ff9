"""Plain data shared by every stage: findings, severities, rule metadata, instructions, the
walk's log. It imports nothing else of layerscan, so any stage can use it."""
