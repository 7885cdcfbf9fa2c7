{#- Incremental identity (issue 9): which raw events an incremental run of the identity models reads.

    dlt stamps every raw row with `_loaded_at`, the same value for every row of one load. A built
    identity table keeps each event's `loaded_at`; its maximum is the high-water mark, and a run reads
    only rows loaded after it. The mark is rendered into the SQL as a literal, so that the filter
    sits on the raw column and DuckDB skips the other row groups before parsing any timestamp or JSON.

    A changed file that is landed again replaces its rows (the loader merges on `_source_file`): its
    rows get the new `_loaded_at`, and those of its messages that it no longer holds are gone (all of
    them, for a file landed again empty; the loader's `_landed_files` row still names it). A run
    that finds such a file rebuilds the model from every staged event (its planned pre-hook,
    macros/incremental/planned_pre_hook.sql, empties the table first), so the result always equals
    a full refresh. -#}

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
    (a re-landed, changed file). Reads the raw `_source_file` of the rows after the mark only, and
    the loader's bookkeeping (`_landed_files`, beside the raw events, when it is there): a file
    landed again empty leaves no raw row to name it, only its bookkeeping row. -#}
{% macro identity_files_relanded(relation, mark) %}
    {%- if not execute %}{{ return(false) }}{% endif %}
    {%- set events = source('product', 'events') %}
    {%- set bookkeeping = adapter.get_relation(
        database=events.database, schema=events.schema, identifier='_landed_files') %}
    {%- set query %}
        select count(*)
        from {{ relation }}
        where source_file in (
            select raw_events._source_file
            from {{ events }} as raw_events
            where raw_events._loaded_at > '{{ mark }}'
            {%- if bookkeeping is not none %}
            union all
            select landed_files.source_file
            from {{ bookkeeping }} as landed_files
            where landed_files._loaded_at > '{{ mark }}'
            {%- endif %}
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

{#- The tables in which int_events_matched_to_account_rules keeps the memberships and accounts its
    latest build used (written by its post-hooks, in the same transaction as the model). An
    incremental run compares them with the current ones: only the users of memberships that changed
    and the events naming accounts that changed can get another rule 1-4 answer, so only those are
    read back from the built table (memberships are a few rows per user; events are many). -#}
{% macro identity_rule_inputs_relation(relation, kind) %}
    {{ return(api.Relation.create(database=relation.database, schema=relation.schema,
                                  identifier=relation.identifier ~ '__' ~ kind ~ '_used')) }}
{% endmacro %}

{#- Post-hooks of int_events_matched_to_account_rules: keep the memberships and accounts this build
    used (dropped and created again; a few hundred thousand rows at most). `step` 0-3: drop and create
    the memberships, drop and create the accounts. -#}
{% macro identity_rule_inputs_post_hook(step) %}
    {%- if not execute %}{{ return('') }}{% endif %}
    {%- set memberships = identity_rule_inputs_relation(this, 'memberships') %}
    {%- set accounts = identity_rule_inputs_relation(this, 'accounts') %}
    {%- set statements = [
        'drop table if exists ' ~ memberships,
        'create table ' ~ memberships ~ ' as select user_id, account_id, valid_from, valid_to from '
            ~ ref('stg_product__account_memberships'),
        'drop table if exists ' ~ accounts,
        'create table ' ~ accounts ~ ' as select account_id, domain from ' ~ ref('stg_crm__accounts'),
    ] %}
    {{ return(statements[step]) }}
{% endmacro %}

{#- How int_events_matched_to_account_rules runs, as a dict:
    - mode: 'full' or 'touched' (the stitched events loaded after its own mark, and the users they,
      a re-stitched event or a changed membership or account touch);
    - mark: the latest `loaded_at` built (none when there is none);
    - built_mark: the latest `_built_at` built (stitched rows written after it may have been
      re-stitched);
    - restitched_rows, changed_memberships, changed_accounts: how many stitched rows were written after
      built_mark (other than new events), and how many membership and account rows differ from
      what the latest build used (the body reads the built events for these only when there are any).
    Full when the built table lacks the columns the comparison needs or the tables of the inputs its
    build used, or when the stitched table no longer holds every built event plus the new ones (a
    re-landed file: events replaced or gone). The body calls it once; its pre-hook reads the answer
    from the compiled SQL (macros/incremental/planned_pre_hook.sql). -#}
{% macro identity_match_plan(relation, stitched) %}
    {%- set full = {'mode': 'full', 'mark': none} %}
    {%- if not execute or not is_incremental() %}{{ return(full) }}{% endif %}
    {%- set columns = adapter.get_columns_in_relation(relation) | map(attribute='name') | map('lower') | list %}
    {%- if 'group_call_account_id' not in columns or '_built_at' not in columns %}{{ return(full) }}{% endif %}
    {%- set memberships_used = identity_rule_inputs_relation(relation, 'memberships') %}
    {%- set accounts_used = identity_rule_inputs_relation(relation, 'accounts') %}
    {%- if adapter.get_relation(memberships_used.database, memberships_used.schema, memberships_used.identifier) is none
        or adapter.get_relation(accounts_used.database, accounts_used.schema, accounts_used.identifier) is none %}
        {{ return(full) }}
    {%- endif %}
    {%- set marks = run_query('select cast(max(loaded_at) as ' ~ dbt.type_string() ~ '), cast(max(_built_at) as '
        ~ dbt.type_string() ~ ') from ' ~ relation).rows[0] %}
    {%- if marks[0] is none or marks[1] is none %}{{ return(full) }}{% endif %}
    {%- set mark, built_mark = marks[0], marks[1] %}
    {%- set query %}
        select
            (select count(*) from {{ stitched }}) as stitched_events,
            (select count(*) from {{ relation }}) as built_events,
            (select count(*) from {{ stitched }} where loaded_at > '{{ mark }}') as new_events,
            (
                select count(*)
                from {{ relation }} as built
                where built.event_id in (
                    select stitched_events.event_id
                    from {{ stitched }} as stitched_events
                    where stitched_events.loaded_at > '{{ mark }}'
                )
            ) as replaced_events,
            (
                select count(*)
                from {{ stitched }}
                where _built_at > cast('{{ built_mark }}' as {{ dbt.type_timestamp() }}) and loaded_at <= '{{ mark }}'
            ) as restitched_rows,
            (
                select count(*) from (
                    select user_id, account_id, valid_from, valid_to from {{ memberships_used }}
                    except
                    select user_id, account_id, valid_from, valid_to from {{ ref('stg_product__account_memberships') }}
                ) as gone
            ) + (
                select count(*) from (
                    select user_id, account_id, valid_from, valid_to from {{ ref('stg_product__account_memberships') }}
                    except
                    select user_id, account_id, valid_from, valid_to from {{ memberships_used }}
                ) as added
            ) as changed_memberships,
            (
                select count(*) from (
                    select account_id, domain from {{ accounts_used }}
                    except
                    select account_id, domain from {{ ref('stg_crm__accounts') }}
                ) as gone
            ) + (
                select count(*) from (
                    select account_id, domain from {{ ref('stg_crm__accounts') }}
                    except
                    select account_id, domain from {{ accounts_used }}
                ) as added
            ) as changed_accounts
    {%- endset %}
    {%- set row = run_query(query).rows[0] %}
    {%- if row[3] | int > 0 or (row[0] | int) != (row[1] | int) + (row[2] | int) %}
        {{ return({'mode': 'full', 'mark': mark}) }}
    {%- endif %}
    {{ return({
        'mode': 'touched',
        'mark': mark,
        'built_mark': built_mark,
        'restitched_rows': row[4] | int,
        'changed_memberships': row[5] | int,
        'changed_accounts': row[6] | int,
        'memberships_used': memberships_used,
        'accounts_used': accounts_used,
    }) }}
{% endmacro %}

{#- The staged events' rows to test on an incremental run (the staged events are a view over raw;
    macros/tests/rewritten_rows.sql asks this for a relation with `loaded_at` and no `_built_at`):
    the raw rows landed after what int_events_stitched_to_users held before, as a predicate on
    `loaded_at` (a literal: DuckDB prunes the other row groups before parsing them). Before that
    table is rebuilt in this invocation (a `dbt build` tests the staged events first), those are the
    rows after its latest `loaded_at`, the ones this run will stitch; otherwise (it was rebuilt in
    this invocation, or it is not selected: a later `dbt test`) the rows after the latest `loaded_at`
    it held before its latest write. None (every row is tested) when it has not been built with
    `_built_at`, or when its latest write was a rebuild of every event; none for any other relation. -#}
{% macro identity_new_raw_rows_filter(relation, columns) %}
    {%- if not execute or 'loaded_at' not in columns
        or relation.identifier | lower not in ['stg_product__events', 'base_product__events'] %}
        {{ return(none) }}
    {%- endif %}
    {%- set node = graph.nodes.get('model.' ~ project_name ~ '.int_events_stitched_to_users') %}
    {%- set stitched = built_relation_with_built_at('int_events_stitched_to_users') %}
    {%- if stitched is none %}{{ return(none) }}{% endif %}
    {%- set written_now = run_query('select max(_built_at) = ' ~ built_at_column() ~ ' from ' ~ stitched).rows %}
    {%- if written_now | length == 0 or written_now[0][0] is none %}{{ return(none) }}{% endif %}
    {%- if node.unique_id in selected_resources and not written_now[0][0] %}
        {%- set query = 'select cast(max(loaded_at) as ' ~ dbt.type_string() ~ ') from ' ~ stitched %}
    {%- else %}
        {%- set query = 'select cast(max(loaded_at) as ' ~ dbt.type_string() ~ ') from ' ~ stitched
            ~ ' where _built_at < (select max(_built_at) from ' ~ stitched ~ ')' %}
    {%- endif %}
    {%- set mark = run_query(query).columns[0].values()[0] %}
    {%- if mark is none %}{{ return(none) }}{% endif %}
    {{ return("loaded_at > '" ~ mark ~ "'") }}
{% endmacro %}

{#- The built table of model `name` when it exists and has `_built_at` (the incremental models'
    write marker, macros/tests/rewritten_rows.sql), else none: where the limited tests of views over
    it read the latest write from. -#}
{% macro built_relation_with_built_at(name) %}
    {%- set node = graph.nodes.get('model.' ~ project_name ~ '.' ~ name) %}
    {%- if node is none %}{{ return(none) }}{% endif %}
    {%- set relation = adapter.get_relation(database=node.database, schema=node.schema, identifier=node.alias) %}
    {%- if relation is none %}{{ return(none) }}{% endif %}
    {%- set columns = adapter.get_columns_in_relation(relation) | map(attribute='name') | map('lower') | list %}
    {{ return(relation if '_built_at' in columns else none) }}
{% endmacro %}
