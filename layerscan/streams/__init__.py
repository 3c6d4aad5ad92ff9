"""Bytes in: compression told by magic bytes, inflating (ISA-L), the forward-only tar reader,
and the bounds that keep a hostile tar header cheap."""
