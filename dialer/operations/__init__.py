"""Verbs over the store that a person (the CLI) or a service (the HTTP API) asks for: loading a
campaign and its list (`loading`, with the report of what changed), steering it (`steering`:
pause, resume, cancel), and asking Retell whether a campaign will work (`doctor`). Below the
listeners and the process wiring; above dialing, the store and the Retell client."""
