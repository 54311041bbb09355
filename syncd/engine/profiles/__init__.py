"""Contact profiles: one person's record from every source, merged by identity.

`identity` decides where a source record belongs (new profile, update, email change,
duplicate, rejection); `merge` writes a page of records into the store (the write side);
`read` merges each stored profile's per-source fields into the canonical view the rules see
(the read side, one contact at a time); `columns` gives the same view as typed columns, a
batch at a time, for the sync's segmentation.
"""
