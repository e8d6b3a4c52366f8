"""CrossGuard policy pack: the platform rules, importable without the engine."""
