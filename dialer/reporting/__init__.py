"""What a campaign's results look like to a person: `status` (one read-model for the table, the
JSON and the dashboard), `export` (CSV or JSON lines, formula-safe), `report` (one HTML page of
charts), `dashboard` (the live page), `terminal` (the progress bar and tables) and
`output_file` (a file replaced only once complete). Reads only; never creates a store."""
