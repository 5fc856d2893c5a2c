"""Blind human evaluation: export shuffled A/B sheets with a key, import the filled-in sheets, record the result.

- :mod:`harness.human.key`: the criteria, the sheet's columns and the key (which side is which model);
- :mod:`harness.human.forms`: the CSV sheet and the self-contained HTML form;
- :mod:`harness.human.export`: ``harness human export``, answers through the scoring cache;
- :mod:`harness.human.ratings`: reading and checking filled-in sheets, un-blinding;
- :mod:`harness.human.record`: the per-item ScoreTables and Krippendorff's alpha, where the ``human`` gate
  reads them.
"""
