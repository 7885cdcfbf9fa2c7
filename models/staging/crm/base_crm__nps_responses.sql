-- Typed NPS responses with the first reason each one cannot be used (null = valid).
with

source as (
    select * from {{ source('crm', 'nps_responses') }}
),

accounts as (
    select account_id from {{ ref('stg_crm__accounts') }}
),

typed as (
    select
        nullif(trim(source.response_id), '') as nps_response_id,
        nullif(trim(source.account_id), '') as account_id,
        lower(nullif(trim(source.respondent_email), '')) as respondent_email,
        {{ try_cast_integer('source.score') }} as nps_score,
        {{ try_cast_timestamp_utc('trim(source.submitted_at)') }} as submitted_at,
        source._loaded_at as loaded_at,
        source.response_id as record_key,
        {{ row_to_json_text('source') }} as raw_payload
    from source
),

checked as (
    select
        typed.*,
        case
            when typed.nps_response_id is null or typed.account_id is null then 'invalid_value'
            when typed.submitted_at is null then 'unparseable_timestamp'
            when typed.nps_score is null then 'invalid_value'
            when typed.nps_score < 0 or typed.nps_score > 10 then 'nps_out_of_range'
            when accounts.account_id is null then 'unknown_account_crm'
        end as rejection_reason
    from typed
    left join accounts
        on typed.account_id = accounts.account_id
)

select * from checked
