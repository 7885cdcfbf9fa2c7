-- Typed memberships with the first reason each one cannot be used (null = valid).
with

source as (
    select * from {{ source('product', 'account_memberships') }}
),

accounts as (
    select account_id from {{ ref('stg_crm__accounts') }}
),

typed as (
    select
        {{ dbt.hash(dbt.concat(['source.user_id', "'|'", 'source.account_id', "'|'", 'source.valid_from'])) }}
            as account_membership_id,
        nullif(trim(source.user_id), '') as user_id,
        nullif(trim(source.account_id), '') as account_id,
        nullif(trim(source.role), '') as member_role,
        {{ try_cast_date('trim(source.valid_from)') }} as valid_from,
        {{ try_cast_date("nullif(trim(source.valid_to), '')") }} as valid_to,
        nullif(trim(source.valid_to), '') is not null as has_valid_to_text,
        source._loaded_at as loaded_at,
        {{ dbt.concat(['source.user_id', "'|'", 'source.account_id', "'|'", 'source.valid_from']) }} as record_key,
        {{ row_to_json_text('source') }} as raw_payload
    from source
),

checked as (
    select
        typed.*,
        case
            when typed.user_id is null or typed.account_id is null then 'invalid_value'
            when typed.valid_from is null then 'invalid_value'
            when typed.has_valid_to_text and typed.valid_to is null then 'invalid_value'
            when typed.valid_to <= typed.valid_from then 'invalid_value'
            when accounts.account_id is null then 'unknown_account_crm'
        end as rejection_reason
    from typed
    left join accounts
        on typed.account_id = accounts.account_id
)

select * from checked
