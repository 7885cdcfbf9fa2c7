{#
    The domain part of a lower-cased e-mail address ('ann@acme.io' -> 'acme.io'); null when the
    address has no '@'. dbt.split_part is portable, but part 2 of a string without the delimiter is
    '' on some engines and null on others, so both are normalised to null here.
#}
{% macro email_domain(email_column) -%}
    case
        when {{ email_column }} like '%@%'
            then nullif({{ dbt.split_part(email_column, "'@'", 2) }}, '')
    end
{%- endmacro %}
