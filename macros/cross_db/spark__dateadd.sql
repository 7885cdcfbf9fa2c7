{#
    dbt.dateadd on Spark. dbt-spark's own spark__dateadd goes through to_unix_timestamp, which
    drops fractions of a second: 10:00:00.600 + 30 minutes became 10:30:00.000, so a session gap
    of 29:59.5 counted as a new session on Spark only (unit test
    int_usage_aggregated_to_account_days__session_gap_fractions). Spark's timestampadd keeps the
    microseconds, and like dbt-spark's macro returns a timestamp for a date or timestamp input.
    This override wins over the adapter's macro of the same name (the root project is searched
    first); other engines keep dbt's implementations.
#}
{% macro spark__dateadd(datepart, interval, from_date_or_timestamp) -%}
    {%- set units = {
        'microsecond': 'MICROSECOND', 'millisecond': 'MILLISECOND', 'second': 'SECOND',
        'minute': 'MINUTE', 'hour': 'HOUR', 'day': 'DAY', 'week': 'WEEK', 'month': 'MONTH',
        'quarter': 'QUARTER', 'year': 'YEAR'
    } -%}
    {%- if datepart | lower not in units -%}
        {{ exceptions.raise_compiler_error("dateadd: datepart '" ~ datepart ~ "' is not supported on Spark") }}
    {%- endif -%}
    timestampadd({{ units[datepart | lower] }}, cast({{ interval }} as int), {{ from_date_or_timestamp }})
{%- endmacro %}
