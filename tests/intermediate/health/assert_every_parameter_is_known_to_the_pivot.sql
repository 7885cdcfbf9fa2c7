-- Claim: every parameter of the selected config version in seeds/scoring_config.csv is a column of
-- int_scoring_config_pivoted_to_segments (a misspelt parameter is not silently ignored).
-- depends_on: {{ ref('int_scoring_config_pivoted_to_segments') }}
{%- set pivot_columns = adapter.get_columns_in_relation(ref('int_scoring_config_pivoted_to_segments'))
    | map(attribute='name') | map('lower') | list if execute else [] %}
{#- as SQL literals; no columns (nothing built yet, e.g. under the linter) gives ('') so the SQL still parses #}
{%- set pivot_column_list = "'" ~ pivot_columns | join("', '") ~ "'" %}
select distinct parameter_name  -- one row per unknown parameter, not a patch
from {{ ref('scoring_config') }}
where
    config_version = '{{ var("scoring_config_version") }}'
    and lower(parameter_name) not in ({{ pivot_column_list }})
