{#-
    The component scores a churn model (seeds/churn_model_coefficients.csv) may use, and the health
    composite's components. These are column names of int_health_components_scored (schema, not
    business values): which of them a model uses, and how much, is in the seed; which the health
    score uses, and how much, is in seeds/scoring_config.csv.
-#}
{% macro churn_model_components() -%}
    {{ return(['recency', 'adoption', 'depth', 'breadth', 'cs_engagement', 'nps', 'support', 'sentiment']) }}
{%- endmacro %}

{% macro health_score_components() -%}
    {{ return(['recency', 'adoption', 'depth', 'breadth', 'cs_engagement']) }}
{%- endmacro %}

{#-
    The churn model's log-odds for a row with `<component>_score` columns, against a row of
    int_churn_model_coefficients_pivoted aliased `model`: intercept + sum over components of
    coefficient x coalesce(score, fill value) + missing coefficient x (1 when the score is null).
    Same formula as pipelines.calibrate.ChurnModel.log_odds.
-#}
{% macro churn_log_odds(scores, model) -%}
    {#- a coefficient the model row lacks counts 0, as int_churn_model_coefficients_pivoted writes it #}
    coalesce({{ model }}.intercept, 0)
    {%- for component in churn_model_components() %}
    + coalesce({{ model }}.{{ component }}_coefficient, 0) * coalesce(
        cast({{ scores }}.{{ component }}_score as {{ type_double() }}), {{ model }}.{{ component }}_fill_value, 0
    )
    + coalesce({{ model }}.{{ component }}_missing_coefficient, 0)
    * case when {{ scores }}.{{ component }}_score is null then 1 else 0 end
    {%- endfor %}
{%- endmacro %}

{#- The logistic function of a log-odds expression, clamped to +-30 so exp() never overflows (the
    probability then differs from the unclamped one by less than 1e-13). -#}
{% macro logistic(log_odds) -%}
    1.0 / (1.0 + exp(-greatest(-30.0, least(30.0, {{ log_odds }}))))
{%- endmacro %}
