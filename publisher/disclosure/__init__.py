"""Statistical disclosure control: what may leave the staging area for the public one.

* ``relations``: the linear relations an attacker knows (parent = sum of children along
  every hierarchy, year = sum of its quarters or months, linked and earlier tables).
* ``audit``: the attacker's system solved with HiGHS: for every withheld cell, the
  smallest and largest value consistent with everything published.
* ``suppression``: primary (threshold) and secondary suppression (a HiGHS MILP whose
  solution the audit checks, with cuts added until it passes).
* ``rounding`` and ``cellkey``: the two perturbative methods.
* ``policy``: what each dataflow declares, and how a journalist reads it.

Everything here works on plain arrays and pandas frames, not on the store.
"""
