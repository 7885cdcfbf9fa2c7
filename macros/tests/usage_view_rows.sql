{#- The rows of the usage views (int_usage_aggregated_to_account_user_days,
    int_feature_usage_aggregated_to_account_days: group-bys of the resolved events per day) to test on
    an incremental run (issue 9; macros/tests/rewritten_rows.sql asks this for a relation with
    `date_day` and no `_built_at`): the days of the events int_events_matched_to_account_rules wrote
    in its latest write. A view row can differ from what an earlier run tested only on such a day
    (the match rewrites every event whose attribution may have changed), and both rows of a
    duplicated key share its day (the key ends with the day). The days are inlined as literals: only
    a literal filter reaches below the view's group-by, so the test aggregates those days' events
    only (a unique test over the user-day view read every event: 24 s of the 48M-event incremental
    run). None (every row is tested) for any other relation, before the match keeps `_built_at`, and
    when its latest write was a rebuild of every event. -#}
{% macro usage_view_rows_filter(relation, columns) %}
    {%- if not execute or 'date_day' not in columns or relation.identifier | lower not in [
        'int_usage_aggregated_to_account_user_days', 'int_feature_usage_aggregated_to_account_days'] %}
        {{ return(none) }}
    {%- endif %}
    {%- set matched = built_relation_with_built_at('int_events_matched_to_account_rules') %}
    {%- if matched is none %}{{ return(none) }}{% endif %}
    {%- set marks = run_query('select cast(min(_built_at) as ' ~ dbt.type_string() ~ '), cast(max(_built_at) as '
        ~ dbt.type_string() ~ ') from ' ~ matched).rows %}
    {%- if marks | length == 0 or marks[0][1] is none or marks[0][0] == marks[0][1] %}{{ return(none) }}{% endif %}
    {%- set days = run_query('select distinct cast(event_date as ' ~ dbt.type_string() ~ ') from ' ~ matched
        ~ " where _built_at = cast('" ~ marks[0][1] ~ "' as " ~ dbt.type_timestamp() ~ ')').columns[0].values() %}
    {%- if days | length == 0 %}{{ return('1 = 0') }}{% endif %}
    {%- set literals = [] %}
    {%- for day in days | sort %}
        {%- do literals.append("cast('" ~ day ~ "' as date)") %}
    {%- endfor %}
    {{ return('date_day in (' ~ literals | join(', ') ~ ')') }}
{% endmacro %}
