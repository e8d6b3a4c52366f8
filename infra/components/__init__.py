"""One ComponentResource per platform piece."""
