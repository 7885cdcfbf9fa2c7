{#- Incremental identity (issue 9): which raw events an incremental run of the identity models reads.

    dlt stamps every raw row with `_loaded_at`, the same value for every row of one load. A built
    identity table keeps each event's `loaded_at`; its maximum is the high-water mark, and a run reads
    only rows loaded after it. The mark is rendered into the SQL as a literal, so that the filter
    sits on the raw column and DuckDB skips the other row groups before parsing any timestamp or JSON.

    A changed file that is landed again replaces its rows (the loader merges on `_source_file`): its
    rows get the new `_loaded_at`, and those of its messages that it no longer holds are gone. A run
    that finds such a file rebuilds the model from every staged event (identity_rebuild_pre_hook
    empties the table first), so the result always equals a full refresh. -#}

{#- The greatest `loaded_at` in a built identity table, as text ready to be quoted; none when the
    table is empty or was built before it kept `loaded_at`. -#}
{% macro identity_loaded_at_mark(relation) %}
    {%- if not execute or relation is none %}{{ return(none) }}{% endif %}
    {%- set columns = adapter.get_columns_in_relation(relation) | map(attribute='name') | map('lower') | list %}
    {%- if 'loaded_at' not in columns %}{{ return(none) }}{% endif %}
    {%- set result = run_query('select cast(max(loaded_at) as ' ~ dbt.type_string() ~ ') from ' ~ relation) %}
    {%- set value = result.columns[0].values()[0] %}
    {{ return(value) }}
{% endmacro %}

{#- Whether some raw event file landed after `mark` had rows in the built stitched table before
    (a re-landed, changed file). Reads the raw `_source_file` of the rows after the mark only. -#}
{% macro identity_files_relanded(relation, mark) %}
    {%- if not execute %}{{ return(false) }}{% endif %}
    {%- set query %}
        select count(*)
        from {{ relation }}
        where source_file in (
            select raw_events._source_file
            from {{ source('product', 'events') }} as raw_events
            where raw_events._loaded_at > '{{ mark }}'
        )
    {%- endset %}
    {%- set result = run_query(query) %}
    {{ return(result.columns[0].values()[0] | int > 0) }}
{% endmacro %}

{#- How int_events_stitched_to_users runs: 'full' (every staged event: a first build, a table built
    before it kept `loaded_at`/`source_file`, or a re-landed file) or 'new_rows' (the rows after the
    mark and the anonymous ids they re-stitch). Returns [mode, mark]. -#}
{% macro identity_stitch_plan(relation) %}
    {%- if not is_incremental() %}{{ return(['full', none]) }}{% endif %}
    {%- set columns = adapter.get_columns_in_relation(relation) | map(attribute='name') | map('lower') | list %}
    {%- if 'source_file' not in columns %}{{ return(['full', none]) }}{% endif %}
    {%- set mark = identity_loaded_at_mark(relation) %}
    {%- if mark is none %}{{ return(['full', none]) }}{% endif %}
    {%- if identity_files_relanded(relation, mark) %}{{ return(['full', mark]) }}{% endif %}
    {{ return(['new_rows', mark]) }}
{% endmacro %}

{#- How int_events_matched_to_account_rules runs: 'full' or 'touched' (the stitched events loaded
    after its own mark, the users they and any changed rule answer touch). Full when the built table
    lacks the columns the comparison needs, or when the stitched table no longer holds every built
    event plus the new ones (a re-landed file: events replaced or gone). Returns [mode, mark]. -#}
{% macro identity_match_plan(relation, stitched) %}
    {%- if not is_incremental() %}{{ return(['full', none]) }}{% endif %}
    {%- set columns = adapter.get_columns_in_relation(relation) | map(attribute='name') | map('lower') | list %}
    {%- if 'group_call_account_id' not in columns %}{{ return(['full', none]) }}{% endif %}
    {%- set mark = identity_loaded_at_mark(relation) %}
    {%- if mark is none %}{{ return(['full', none]) }}{% endif %}
    {%- set query %}
        select
            (select count(*) from {{ stitched }}) as stitched_events,
            (select count(*) from {{ relation }}) as built_events,
            (select count(*) from {{ stitched }} where loaded_at > '{{ mark }}') as new_events,
            (
                select count(*)
                from {{ stitched }} as stitched_events
                inner join {{ relation }} as built
                    on stitched_events.event_id = built.event_id
                where stitched_events.loaded_at > '{{ mark }}'
            ) as replaced_events
    {%- endset %}
    {%- set row = run_query(query).rows[0] %}
    {%- if row[3] | int > 0 or (row[0] | int) != (row[1] | int) + (row[2] | int) %}
        {{ return(['full', mark]) }}
    {%- endif %}
    {{ return(['touched', mark]) }}
{% endmacro %}

{#- Pre-hook of the identity models: when a run rebuilds from every event over a built table (a
    re-landed file), empty the table first, so that events no longer landed do not stay behind. -#}
{% macro identity_rebuild_pre_hook(plan_macro) %}
    {%- if not execute or not is_incremental() %}{{ return('') }}{% endif %}
    {%- if plan_macro == 'stitch' %}
        {%- set plan = identity_stitch_plan(this) %}
    {%- else %}
        {%- set plan = identity_match_plan(this, ref('int_events_stitched_to_users')) %}
    {%- endif %}
    {%- if plan[0] == 'full' and plan[1] is not none %}
        {{ return('delete from ' ~ this) }}
    {%- endif %}
    {{ return('') }}
{% endmacro %}
