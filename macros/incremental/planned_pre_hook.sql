{#- Planned pre-hooks of the incremental models (issue 9).

    An incremental model here plans its run in its body: which raw rows it reads, and whether it
    rebuilds. What must happen to the built table first (emptied before a rebuild, or some rows
    deleted because the run writes them again) follows from that plan. dbt compiles the body before
    it runs any hook, so the body writes the statement into a comment of its compiled SQL
    (`planned_pre_hook_statement`) and the pre-hook (`planned_pre_hook`) reads it back: the plan's
    queries run once per model, not once for the body and again for the hook.

    Used by base_product__event_deliveries, quality.rejected_records and the two identity tables.
    Spark has no delete on plain tables: those models are tables there and have no pre-hook. -#}

{%- macro planned_pre_hook_begin() %}/* planned pre-hook:{% endmacro %}
{%- macro planned_pre_hook_end() %}end of planned pre-hook */{% endmacro %}

{#- In a model body: the statement(s) its pre-hook runs, as a comment; nothing when empty. The
    statement must not contain the end of a block comment. -#}
{% macro planned_pre_hook_statement(statement) %}
    {%- if not statement | trim %}{{ return('') }}{% endif %}
    {%- if '*/' in statement %}
        {{ exceptions.raise_compiler_error('planned_pre_hook_statement: the statement contains "*/": ' ~ statement) }}
    {%- endif %}
    {{ return(planned_pre_hook_begin() ~ '\n' ~ statement ~ '\n' ~ planned_pre_hook_end()) }}
{% endmacro %}

{#- The pre-hook: the statement the compiled body carries, or nothing. -#}
{% macro planned_pre_hook() %}
    {%- if not execute or not is_incremental() %}{{ return('') }}{% endif %}
    {%- set code = model.compiled_code or '' %}
    {%- if planned_pre_hook_begin() not in code %}{{ return('') }}{% endif %}
    {%- set statement = code.split(planned_pre_hook_begin(), 1)[1].split(planned_pre_hook_end(), 1)[0] %}
    {{ return(statement | trim) }}
{% endmacro %}

{#- Empty a built table before its run rebuilds it from every row. A table built before it kept
    `_built_at` gets the column here, in the run's transaction: dbt's on_schema_change would add it in
    another one, and DuckDB then refuses to commit the delete ("another transaction has altered this
    table"). -#}
{% macro incremental_empty_table_sql(relation) %}
    {%- set columns = adapter.get_columns_in_relation(relation) | map(attribute='name') | map('lower') | list %}
    {%- set statements = [] %}
    {%- if '_built_at' not in columns %}
        {%- do statements.append('alter table ' ~ relation ~ ' add column _built_at ' ~ dbt.type_timestamp()) %}
    {%- endif %}
    {%- do statements.append('delete from ' ~ relation) %}
    {{ return(statements | join(';\n')) }}
{% endmacro %}
