"""Send stage (I/O): resolve the MX, hold timed SMTP conversations, send the message matrix,
run the size-threshold search. Everything it observes is returned as `probe.model` data."""
