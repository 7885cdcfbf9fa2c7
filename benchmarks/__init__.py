"""The benchmark ladder (issue 9): `python -m benchmarks.run --size tiny|small|medium|large|all`.

`run.py` orchestrates one size: it generates the demo company, then runs every measured step in its
own subprocess (`steps.py`) so that each step's peak memory (max RSS) is its own. `floor.sql` is the
hand-written DuckDB floor the dbt build is compared with. Results: `benchmarks/results/`.
"""
