"""The rules of dialing, as pure functions and typed values: no I/O, no clock reads.

`campaign` (settings types), `states` (lead, attempt and campaign states), `timezones`,
`hours` (calling hours), `policy` (what happens after a call or a refused create), `pacing`
(how many leads a claim may take and how their dials are spaced), `screening` (which claimed
candidates are dialed, skipped or deferred), `calls` (a call's end as dialer records it),
`control` (pause, resume and cancel). Everything else imports from here; this package imports
nothing of the store, the Retell client, the runner or the CLI (checked by import-linter).
"""
