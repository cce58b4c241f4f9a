"""The local stack: emulator, `chalice local` wrapper, local resources (no Lambda package)."""
