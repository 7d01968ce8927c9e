"""The read-only web service: SDMX REST (v2 and v1.5 paths) over the public area of the store."""
