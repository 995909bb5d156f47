"""A guard against a hang, never a speed limit: every wait in the tests is for an event (a
process exiting, a page loaded, a file saved), and a machine however slow or busy reaches it
long before this many seconds. No test bounds wall-clock time."""

HANG_S = 1800
