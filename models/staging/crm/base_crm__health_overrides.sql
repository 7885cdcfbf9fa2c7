-- Typed CSM health overrides with the first reason each one cannot be used (null = valid).
with

source as (
    select * from {{ source('crm', 'health_overrides') }}
),

accounts as (
    select account_id from {{ ref('stg_crm__accounts') }}
),

typed as (
    select
        nullif(trim(source.override_id), '') as override_id,
        nullif(trim(source.account_id), '') as account_id,
        nullif(trim(source.override_quadrant), '') as override_quadrant,
        {{ try_cast_integer("nullif(trim(source.override_score), '')") }} as override_score,
        nullif(trim(source.override_score), '') is not null as has_score_text,
        nullif(trim(source.note), '') as override_note,
        nullif(trim(source.author), '') as author,
        {{ try_cast_timestamp_utc('trim(source.created_at)') }} as created_at,
        {{ try_cast_timestamp_utc("nullif(trim(source.expires_at), '')") }} as expires_at,
        nullif(trim(source.expires_at), '') is not null as has_expires_at_text,
        source._loaded_at as loaded_at,
        source.override_id as record_key,
        {{ row_to_json_text('source') }} as raw_payload
    from source
),

checked as (
    select
        typed.*,
        case
            when typed.override_id is null or typed.account_id is null then 'invalid_value'
            when typed.created_at is null then 'unparseable_timestamp'
            when typed.has_expires_at_text and typed.expires_at is null then 'unparseable_timestamp'
            -- a CSM may give a quadrant, a score, or both; one that gives neither says nothing
            when typed.override_quadrant is null and not typed.has_score_text then 'override_without_reading'
            when typed.override_quadrant not in (
                'Champions', 'Frustrated Power Users', 'Relationship-Dependent', 'Churn Risk'
            ) then 'invalid_value'
            when typed.has_score_text and typed.override_score is null then 'invalid_value'
            when typed.override_score < 0 or typed.override_score > 100 then 'invalid_value'
            when accounts.account_id is null then 'unknown_account_crm'
        end as rejection_reason
    from typed
    left join accounts
        on typed.account_id = accounts.account_id
)

select * from checked
