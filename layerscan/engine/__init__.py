"""scan(target, options): the image, layer and file scans, the worker processes, the layer
cache and stored results, and the facades every command calls (inspect, evidence, document)."""
