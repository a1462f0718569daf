"""What a user writes: campaign files, lead lists and suppression files, read with every
problem located by file, line and field; and the review behind `dialer validate`."""
