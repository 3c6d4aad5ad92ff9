"""Helpers shared by the tests: the CLI in a fresh process, synthetic images, damaged copies,
content samples, the report's JSON Schema and SARIF checkers, and each fixture's truth."""
