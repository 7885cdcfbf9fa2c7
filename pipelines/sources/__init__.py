"""dlt sources of the file drop (CONTRACT 1a): one module per source system.

Each module exposes one `@dlt.source` in the shape of dlt's verified sources. They land data only;
validation and typing happen in dbt staging, where they are tested.
"""
