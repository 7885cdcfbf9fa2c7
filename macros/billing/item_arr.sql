{#- ARR of a subscription item: unit_amount x quantity annualised by its price's interval (12 / months
    per interval; a week is 7/365ths of a year, a day 1/365th), the same normalisation as the invoice
    lines. One expression for the billing model and the findings that say what the marts would count. #}
{% macro item_arr(items) -%}
    {{ items }}.unit_amount * {{ items }}.quantity
    * case {{ items }}.billing_interval
        when 'month' then 12.0
        when 'year' then 1.0
        when 'week' then 365.0 / 7.0
        when 'day' then 365.0
    end / coalesce({{ items }}.billing_interval_count, 1)
{%- endmacro %}
