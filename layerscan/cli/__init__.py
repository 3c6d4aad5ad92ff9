"""The command line: parse, call one engine facade, render, map errors to exit codes."""
