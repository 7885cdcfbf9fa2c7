-- Claim: var('scoring_config_version') names a version present in seeds/scoring_config.csv
-- (a misspelt version would otherwise score nothing, silently).
select '{{ var("scoring_config_version") }}' as missing_config_version
where not exists (
    select 1
    from {{ ref('scoring_config') }}
    where config_version = '{{ var("scoring_config_version") }}'
)
