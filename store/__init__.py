"""The one contract between the publisher and the API.

- `schema`: the tables. *staging_* tables hold ingested extracts with their true values
  and are read and written only by the publisher; *public_* tables hold what was
  released and are all the API may read.
- `documents`: the JSON form in which structures (codelists, concept schemes, DSDs,
  dataflows...) are stored in `public_structure`, and its conversion to sdmx1 objects.
- `periods`: how a TIME_PERIOD is stored (text, plus the dates it starts and ends).
"""
