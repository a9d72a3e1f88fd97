"""Number formats for the interface languages Django ships without grouping.

Django's `fa` locale sets no NUMBER_GROUPING, and it has no `kk` or `ps` formats at all, so
USD 500000000 would show ungrouped to a Dari, Pashto or Kazakh reader. Only what is missing
is set here (settings.FORMAT_MODULE_PATH); everything else falls through to Django's own.
Dates never come from these: the tracker has one date format of its own (commitments/formats.py).
"""
