"""The demo company generator: a believable B2B SaaS company's file drop (CONTRACT section 1a).

`python -m pipelines.demo --out DIR` or `pipelines.demo.generate(DIR)`.
"""

from pipelines.demo.generator import BAD_RECORD_REASONS, generate

__all__ = ["BAD_RECORD_REASONS", "generate"]
