-- Every event with what each identity rule says about its account, the rule that wins and, when
-- none applies, why. CONTRACT section 2; precedence and tie rules in DECISIONS.md "Identity".
-- A table, not a view: three window passes over every event, read by the usage models and by
-- quality.unresolved_events, should run once per build.
{{ config(materialized='table') }}

with

events as (
    select
        event_id,
        message_type,
        event_name,
        user_id,
        anonymous_id,
        is_stitched,
        context_group_id,
        group_id,
        email,
        gated_feature_name,
        milestone_name,
        quota_name,
        quota_threshold_pct,
        event_at,
        cast(event_at as date) as event_date
    from {{ ref('int_events_stitched_to_users') }}
),

accounts as (
    select
        account_id,
        domain
    from {{ ref('stg_crm__accounts') }}
),

memberships as (
    select
        user_id,
        account_id,
        valid_from,
        valid_to
    from {{ ref('stg_product__account_memberships') }}
),

-- Rule 2: memberships valid on the event's date, [valid_from, valid_to), of known accounts only.
-- Two memberships valid at once are ambiguous: rule 2 then does not apply (never guessed).
membership_matches as (
    select
        events.event_id,
        count(distinct memberships.account_id) as membership_accounts,
        max(memberships.account_id) as membership_account_id
    from events
    inner join memberships
        on
            events.user_id = memberships.user_id
            and events.event_date >= memberships.valid_from
            and (memberships.valid_to is null or events.event_date < memberships.valid_to)
    inner join accounts
        on memberships.account_id = accounts.account_id
    group by events.event_id
),

-- Rule 3: one timeline per user; the running count of group calls naming a known account numbers
-- the stretches that each start with one such call. On a tie in time the group call sorts first,
-- so a call at the event's own timestamp is "at or before" it.
user_timeline as (
    select
        events.event_id,
        events.user_id,
        case when accounts.account_id is not null and events.message_type = 'group' then events.group_id end
            as called_group_id,
        sum(case when accounts.account_id is not null and events.message_type = 'group' then 1 else 0 end) over (
            partition by events.user_id
            order by
                events.event_at,
                case when accounts.account_id is not null and events.message_type = 'group' then 0 else 1 end,
                events.event_id
            rows between unbounded preceding and current row
        ) as group_stretch
    from events
    left join accounts
        on events.group_id = accounts.account_id
    where events.user_id is not null
),

group_call_matches as (
    select
        event_id,
        max(called_group_id) over (partition by user_id, group_stretch) as group_call_account_id
    from user_timeline
),

-- Rule 4: a user's e-mail is the one of their latest identify call that carries one (ties: the
-- greater event_id), whenever the event happened.
identify_emails as (
    select
        user_id,
        email,
        row_number() over (partition by user_id order by event_at desc, event_id desc) as recency_rank
    from events
    where message_type = 'identify' and user_id is not null and email is not null
),

user_domains as (
    select
        user_id,
        {{ email_domain('email') }} as email_domain
    from identify_emails
    where recency_rank = 1
),

domain_accounts as (
    select
        domain,
        count(*) as domain_accounts,
        max(account_id) as domain_account_id
    from accounts
    where domain is not null
    group by domain
),

email_domain_matches as (
    select
        user_domains.user_id,
        domain_accounts.domain_accounts,
        domain_accounts.domain_account_id
    from user_domains
    inner join domain_accounts
        on user_domains.email_domain = domain_accounts.domain
),

rules_applied as (
    select
        events.*,
        context_accounts.account_id as context_account_id,
        coalesce(membership_matches.membership_accounts, 0) as membership_accounts,
        case when membership_matches.membership_accounts = 1 then membership_matches.membership_account_id end
            as membership_account_id,
        group_call_matches.group_call_account_id,
        coalesce(email_domain_matches.domain_accounts, 0) as email_domain_accounts,
        case when email_domain_matches.domain_accounts = 1 then email_domain_matches.domain_account_id end
            as email_domain_account_id
    from events
    left join accounts as context_accounts
        on events.context_group_id = context_accounts.account_id
    left join membership_matches
        on events.event_id = membership_matches.event_id
    left join group_call_matches
        on events.event_id = group_call_matches.event_id
    left join email_domain_matches
        on events.user_id = email_domain_matches.user_id
),

final as (
    select
        event_id,
        message_type,
        event_name,
        user_id,
        anonymous_id,
        is_stitched,
        context_group_id,
        group_id,
        gated_feature_name,
        milestone_name,
        quota_name,
        quota_threshold_pct,
        event_at,
        event_date,
        -- The first rule that applies wins (CONTRACT section 2).
        coalesce(
            context_account_id,
            membership_account_id,
            group_call_account_id,
            email_domain_account_id
        ) as account_id,
        case
            when context_account_id is not null then 'context_group_id'
            when membership_account_id is not null then 'membership'
            when group_call_account_id is not null then 'group_call'
            when email_domain_account_id is not null then 'email_domain'
        end as resolution_rule,
        -- Why nothing applied, most specific reason first.
        case
            when coalesce(
                context_account_id,
                membership_account_id,
                group_call_account_id,
                email_domain_account_id
            ) is not null then null
            when context_group_id is not null then 'unknown_account'
            when user_id is null then 'anonymous_not_identified'
            when membership_accounts > 1 then 'ambiguous_membership'
            when email_domain_accounts > 1 then 'ambiguous_email_domain'
            else 'no_matching_rule'
        end as unresolved_reason
    from rules_applied
)

select * from final
