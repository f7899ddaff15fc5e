"""Terminal emulators on pseudo-terminals, so the real drivers run end to end without hardware."""
