"""What a running process tells its operator: structured logs (`logs`: JSON lines or a
terminal's, phone numbers masked) and Prometheus metrics (`metrics`)."""
