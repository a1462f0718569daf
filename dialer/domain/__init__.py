"""The rules of dialing, as pure functions and typed values: no I/O, no clock reads. Every
decision is one function with one owner, table-tested in tests/domain.

`campaign` (settings types), `states`, `lifecycle` (every campaign status change, as a typed
transition), `claim` (which due leads a claim dials, skips or defers, and from which number),
`pacing` (how many leads a claim may take, their dial slots, the budget), `screening`,
`caller_id`, `policy` (what happens to a lead after a call or a refused create), `call_end`
(what a call's end does to its from-number and campaign), `list_edits` (what a reloaded row
does), `hours`, `timezones`, `calling_rules`, `state_rules`, `days_off`, `reasons` and `calls`
(Retell's words). Everything else imports from here; this package imports only `dialer.phones`
(checked by import-linter).
"""
