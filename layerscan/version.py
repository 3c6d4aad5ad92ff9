"""The version, in a module of its own: reports and the baseline name it, and importing the
package's public API (which loads the scanner) just to read it would be a cycle."""

__version__ = "0.1.0"
