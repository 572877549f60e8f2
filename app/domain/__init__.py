"""Pure rules of the booking domain: standard library only, no I/O."""
