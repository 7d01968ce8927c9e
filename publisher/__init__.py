"""The publication pipeline: content files and aggregated extracts in, released SDMX out."""
