"""Statistics shared by every line of research (attention, terrain, modulator)."""
