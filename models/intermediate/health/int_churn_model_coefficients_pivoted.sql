-- One row, or none when seeds/churn_model_coefficients.csv holds no model for the horizon: the
-- churn model selected by vars churn_model_horizon_days and churn_model_version (null = the one
-- fitted last for that horizon, by its first held-out date), with its intercept and, per component,
-- the coefficient per score point, the fill value of a missing score and the missing indicator's
-- coefficient. A component the model does not use gets 0 (it moves the log-odds by nothing).
{%- set components = churn_model_components() %}

with

coefficients as (
    select
        model_version,
        feature,
        cast(coefficient as {{ type_double() }}) as coefficient,
        cast(fill_value as {{ type_double() }}) as fill_value,
        cast(held_out_from as date) as held_out_from
    from {{ ref('churn_model_coefficients') }}
    where cast(horizon_days as integer) = {{ var('churn_model_horizon_days') }}
),

versions as (
    select
        model_version,
        max(held_out_from) as held_out_from
    from coefficients
    group by model_version
),

-- the configured version, or the latest fitted one (ties: the greater name)
selected as (
    select
        model_version,
        held_out_from
    from versions
    {%- if var('churn_model_version') %}
        where model_version = '{{ var("churn_model_version") }}'
    {%- endif %}
    order by held_out_from desc, model_version desc
    limit 1
),

final as (
    select
        selected.model_version,
        cast({{ var('churn_model_horizon_days') }} as integer) as horizon_days,
        selected.held_out_from,
        coalesce(max(case when coefficients.feature = 'intercept' then coefficients.coefficient end), 0)
            as intercept,
    {%- for component in components %}
        coalesce(
            max(case when coefficients.feature = '{{ component }}_score' then coefficients.coefficient end), 0
        ) as {{ component }}_coefficient,
        coalesce(
            max(case when coefficients.feature = '{{ component }}_score' then coefficients.fill_value end), 0
        ) as {{ component }}_fill_value,
        coalesce(
            max(case when coefficients.feature = '{{ component }}_score_missing' then coefficients.coefficient end),
            0
        ) as {{ component }}_missing_coefficient
        {{- "," if not loop.last }}
    {%- endfor %}
    from selected
    inner join coefficients
        on selected.model_version = coefficients.model_version
    group by
        selected.model_version,
        selected.held_out_from
)

select * from final
