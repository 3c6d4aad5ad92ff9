"""Image hygiene: the practices container guides repeat, checked on the image (misconfig
findings), beside the secret detectors and independent of them."""
