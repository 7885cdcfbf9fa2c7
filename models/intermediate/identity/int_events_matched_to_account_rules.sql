-- Every event with what each identity rule says about its account, the rule that wins and, when
-- none applies, why. CONTRACT section 2; precedence and tie rules in DECISIONS.md "Identity".
-- A table, not a view: three window passes over every event, read by the usage models and by
-- quality.unresolved_events, should run once per build.
-- Incremental (issue 9): a run resolves the new events, the stitched events loaded after the
-- built table's latest `loaded_at` (a user whose new events all follow their built ones continues
-- rule 3 from the group call in force at their latest built event), and resolves again every event
-- of users whose answer can have changed: late events, a changed stitched user (looked for among
-- the anonymous ids of the new events only), a membership or account that differs from the ones
-- the latest build used (kept by the post-hooks in two side tables), or a new identify e-mail whose
-- rule 4 answer differs from the built one. Each rule's answer is kept per event, so a run finds
-- those changes by comparing, without the window passes over every event. When the stitched
-- table no longer holds every built event (a re-landed file), the run resolves every event again
-- (macros/incremental/identity_high_water_mark.sql). Spark has no delete or merge on plain
-- tables: a table there.
{{
    config(
        materialized='table' if target.type == 'spark' else 'incremental',
        unique_key='event_id',
        on_schema_change='append_new_columns',
        pre_hook="{{ planned_pre_hook() }}" if target.type != 'spark' else [],
        post_hook=[
            "{{ identity_rule_inputs_post_hook(0) }}",
            "{{ identity_rule_inputs_post_hook(1) }}",
            "{{ identity_rule_inputs_post_hook(2) }}",
            "{{ identity_rule_inputs_post_hook(3) }}",
        ] if target.type != 'spark' else [],
    )
}}

{#- Incremental only when the built table keeps each rule's answer, `loaded_at` and `_built_at`, and
    the memberships and accounts its build used are kept (else the first run resolves every event
    again). The plan's queries run here only; the pre-hook reads the statement below
    (macros/incremental/planned_pre_hook.sql). #}
{%- set plan = identity_match_plan(this, ref('int_events_stitched_to_users')) if target.type != 'spark' else {'mode': 'full', 'mark': none} %}
{%- set resolve_touched_only = plan['mode'] == 'touched' %}
{% if plan['mode'] == 'full' and plan['mark'] is not none %}
{{ planned_pre_hook_statement(incremental_empty_table_sql(this)) }}
{% endif %}
{#- On an incremental run the stitched and built events are read several times, each time for a few
    users only: DuckDB and PostgreSQL must not materialise them whole as CTEs (the filters then
    reach each scan). #}
{%- set read_per_use = 'not materialized' if resolve_touched_only else '' %}

with

stitched_events as {{ read_per_use }} (
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
        cast(event_at as date) as event_date,
        loaded_at
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
-- A full build computes it for every event, an incremental run for the events it resolves again
-- (the users whose memberships changed are found from the side tables, below).
-- Per user and day, not per event: the answer depends on nothing else, and a user has many events a day.
{%- set membership_matches_of %}
    select
        user_days.user_id,
        user_days.event_date,
        count(distinct memberships.account_id) as membership_accounts,
        case when count(distinct memberships.account_id) = 1 then max(memberships.account_id) end
            as membership_account_id
    from (USER_DAYS) as user_days
    inner join memberships
        on
            user_days.user_id = memberships.user_id
            and user_days.event_date >= memberships.valid_from
            and (memberships.valid_to is null or user_days.event_date < memberships.valid_to)
    inner join accounts
        on memberships.account_id = accounts.account_id
    group by
        user_days.user_id,
        user_days.event_date
{%- endset %}
{%- set user_days_of_events %}
        select
            user_id,
            event_date
        from EVENTS
        where user_id is not null
        group by
            user_id,
            event_date
{%- endset %}

{% if not resolve_touched_only %}
membership_matches as (
    {{ membership_matches_of | replace('USER_DAYS', user_days_of_events | replace('EVENTS', 'stitched_events')) }}
),
{% endif %}

{%- set email_domain_ctes %}
-- Rule 4: a user's e-mail is the one of their latest identify call that carries one (ties: the
-- greater event_id), whenever the event happened.
identify_emails as (
    select
        user_id,
        email,
        row_number() over (partition by user_id order by event_at desc, event_id desc) as recency_rank
    from stitched_events
    where
        message_type = 'identify' and user_id is not null and email is not null
        {% if resolve_touched_only %}
            -- the users resolved or compared here only
            and user_id in (select touched_users.user_id from touched_users)
        {% endif %}
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
        -- rule 4 applies only when exactly one account has the domain
        case when domain_accounts.domain_accounts = 1 then domain_accounts.domain_account_id end as domain_account_id
    from user_domains
    inner join domain_accounts
        on user_domains.email_domain = domain_accounts.domain
)
{%- endset %}

{% if not resolve_touched_only %}
{{ email_domain_ctes }},
{% endif %}

{% if resolve_touched_only %}
built as {{ read_per_use }} (
    select
        event_id,
        user_id,
        event_at,
        message_type,
        context_group_id,
        group_id,
        group_call_account_id,
        email_domain_accounts,
        email_domain_account_id
    from {{ this }}
),

-- The stitched events loaded after the latest one built here (a literal: the plan checked that
-- none of them is built already).
new_events as (
    select
        event_id,
        message_type,
        user_id,
        email,
        event_at
    from {{ ref('int_events_stitched_to_users') }}
    where loaded_at > '{{ plan['mark'] }}'
),

-- Built events whose stitched user changed: int_events_stitched_to_users rewrites only the events
-- it re-stitched (and the new ones), each with the run's `_built_at`; those written after this
-- table's latest `_built_at` are compared with what was built (both users are resolved again).
restitched_events as (
    {% if plan['restitched_rows'] > 0 %}
        select
            rewritten.event_id,
            rewritten.user_id,
            built.user_id as built_user_id
        from (
            select
                event_id,
                user_id
            from {{ ref('int_events_stitched_to_users') }}
            where
                _built_at > cast('{{ plan['built_mark'] }}' as {{ dbt.type_timestamp() }})
                and loaded_at <= '{{ plan['mark'] }}'
        ) as rewritten
        inner join built
            on rewritten.event_id = built.event_id
        where coalesce(rewritten.user_id, '') <> coalesce(built.user_id, '')
    {% else %}
        select
            cast(null as {{ dbt.type_string() }}) as event_id,
            cast(null as {{ dbt.type_string() }}) as user_id,
            cast(null as {{ dbt.type_string() }}) as built_user_id
        where 1 = 0
    {% endif %}
),

{% set accounts_changed = plan['changed_accounts'] > 0 %}
{% set memberships_changed = plan['changed_memberships'] > 0 or accounts_changed %}
{% if accounts_changed %}
-- Accounts added, removed or with another domain since the latest build (rules 1-4 can change for
-- events naming them, memberships of them and users of their domains).
accounts_used as (
    select
        account_id,
        domain
    from {{ plan['accounts_used'] }}
),

changed_accounts as (
    select account_id, domain from (
        select account_id, domain from accounts_used
        except
        select account_id, domain from accounts
    ) as gone
    union
    select account_id, domain from (
        select account_id, domain from accounts
        except
        select account_id, domain from accounts_used
    ) as added
),
{% endif %}

{% if memberships_changed %}
-- Users with a membership added, removed or changed since the latest build, or a membership of a
-- changed account: rule 2 can answer differently for them (their every event is resolved again).
memberships_used as (
    select
        user_id,
        account_id,
        valid_from,
        valid_to
    from {{ plan['memberships_used'] }}
),

membership_changed_users as (
    select user_id from (
        select user_id, account_id, valid_from, valid_to from memberships_used
        except
        select user_id, account_id, valid_from, valid_to from memberships
    ) as gone
    union
    select user_id from (
        select user_id, account_id, valid_from, valid_to from memberships
        except
        select user_id, account_id, valid_from, valid_to from memberships_used
    ) as added
    {% if accounts_changed %}
        union
        select user_id from memberships
        where account_id in (select changed_accounts.account_id from changed_accounts)
        union
        select user_id from memberships_used
        where account_id in (select changed_accounts.account_id from changed_accounts)
    {% endif %}
),
{% endif %}

-- Users with new events and nothing built at or after the first of them: rules 1, 2 and 4 look at
-- the event or the user only, and rule 3 continues from the group call in force at the user's
-- latest built event, so only their new events are resolved.
latest_built_at as (
    select
        user_id,
        max(event_at) as latest_event_at
    from built
    where user_id in (select new_events.user_id from new_events where new_events.user_id is not null)
    group by user_id
),

-- The last built event of each such user in rule 3's timeline order (ranked among the events at
-- the user's latest timestamp only).
latest_built as (
    select
        built.user_id,
        built.event_at,
        built.group_call_account_id,
        row_number() over (
            partition by built.user_id
            order by
                -- the timeline's own order, reversed: a known group call sorts first at its timestamp
                case
                    when built.message_type = 'group' and built.group_call_account_id = built.group_id then 0
                    else 1
                end desc,
                built.event_id desc
        ) as recency_rank
    from built
    inner join latest_built_at
        on
            built.user_id = latest_built_at.user_id
            and built.event_at = latest_built_at.latest_event_at
),

appending_users as (
    select
        new_user_events.user_id,
        latest_built.group_call_account_id as seed_group_call_account_id
    from (
        select
            user_id,
            min(event_at) as first_new_event_at
        from new_events
        where user_id is not null
        group by user_id
    ) as new_user_events
    left join latest_built
        on
            new_user_events.user_id = latest_built.user_id
            and latest_built.recency_rank = 1
    where latest_built.event_at is null or new_user_events.first_new_event_at > latest_built.event_at
),

-- Users with a new identify call carrying an e-mail: their rule 4 answer is compared with the built one.
new_email_users as (
    select distinct user_id
    from new_events
    where message_type = 'identify' and user_id is not null and email is not null
),

-- Users whose inputs changed: a re-stitched event (its old and new user), a changed membership, an
-- event naming a changed account, an identify e-mail of a changed domain. Every event of theirs is
-- resolved again.
changed_input_users as (
    select user_id from restitched_events where user_id is not null
    union
    select built_user_id from restitched_events where built_user_id is not null
    {% if memberships_changed %}
        union
        select user_id from membership_changed_users
    {% endif %}
    {% if accounts_changed %}
        union
        select user_id from built
        where
            user_id is not null
            and (
                context_group_id in (select changed_accounts.account_id from changed_accounts)
                or (message_type = 'group' and group_id in (select changed_accounts.account_id from changed_accounts))
            )
        union
        select user_id from stitched_events
        where
            message_type = 'identify' and user_id is not null and email is not null
            and {{ email_domain('email') }} in (
                select changed_accounts.domain from changed_accounts where changed_accounts.domain is not null
            )
    {% endif %}
),

-- Every user resolved or compared here (rule 4's answer is computed for these only).
touched_users as (
    select user_id from new_events where user_id is not null
    union
    select user_id from changed_input_users
),

{{ email_domain_ctes }},

-- Users whose every event is resolved again: new events before some built one (late events can
-- move group-call stretches), changed inputs, or a new identify e-mail whose rule 4 answer differs
-- from the built one.
rebuilt_users as (
    select user_id
    from new_events
    where
        user_id is not null
        and user_id not in (select appending_users.user_id from appending_users)
    union
    select user_id from changed_input_users
    union
    select built_domains.user_id
    from (
        select distinct
            user_id,
            email_domain_accounts,
            email_domain_account_id
        from built
        where user_id in (select new_email_users.user_id from new_email_users)
    ) as built_domains
    left join email_domain_matches
        on built_domains.user_id = email_domain_matches.user_id
    where
        coalesce(built_domains.email_domain_accounts, -1) <> coalesce(email_domain_matches.domain_accounts, 0)
        or coalesce(built_domains.email_domain_account_id, '') <> coalesce(email_domain_matches.domain_account_id, '')
),

-- Events without a user resolved again on their own (only rule 1 can apply to them).
rebuilt_anonymous_events as (
    select event_id
    from new_events
    where user_id is null
    union
    select event_id
    from restitched_events
    where user_id is null
    {% if accounts_changed %}
        union
        select built.event_id
        from built
        where
            built.user_id is null
            and built.context_group_id in (select changed_accounts.account_id from changed_accounts)
    {% endif %}
),

-- Users resolved from their new events on, with rule 3's answer at their latest built event.
continuing_users as (
    select
        user_id,
        seed_group_call_account_id
    from appending_users
    where user_id not in (
        select rebuilt_users.user_id
        from rebuilt_users
        where rebuilt_users.user_id is not null
    )
),
{% endif %}

-- Every event on a full build; on an incremental run the events chosen above.
events as (
    select
        stitched_events.*,
        -- rule 3's answer in force before the first event resolved here (incremental runs only)
        {% if resolve_touched_only %}
            continuing_users.seed_group_call_account_id
        {% else %}
            cast(null as {{ dbt.type_string() }}) as seed_group_call_account_id
        {% endif %}
    from stitched_events
    {% if resolve_touched_only %}
        left join continuing_users
            on stitched_events.user_id = continuing_users.user_id
        where
            stitched_events.user_id in (
                select rebuilt_users.user_id
                from rebuilt_users
                where rebuilt_users.user_id is not null
            )
            or stitched_events.event_id in (select rebuilt_anonymous_events.event_id from rebuilt_anonymous_events)
            or (
                continuing_users.user_id is not null
                and stitched_events.event_id in (select new_events.event_id from new_events)
            )
    {% endif %}
),

{% if resolve_touched_only %}
-- Rule 2 for the events resolved here only.
membership_matches as (
    {{ membership_matches_of | replace('USER_DAYS', user_days_of_events | replace('EVENTS', 'events')) }}
),
{% endif %}

-- Rule 3: one timeline per user; the running count of group calls naming a known account numbers
-- the stretches that each start with one such call. On a tie in time the group call sorts first,
-- so a call at the event's own timestamp is "at or before" it.
user_timeline as (
    select
        events.event_id,
        events.user_id,
        events.seed_group_call_account_id,
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
        case
            when group_stretch = 0 then seed_group_call_account_id
            else max(called_group_id) over (partition by user_id, group_stretch)
        end as group_call_account_id
    from user_timeline
),

rules_applied as (
    select
        events.*,
        context_accounts.account_id as context_account_id,
        coalesce(membership_matches.membership_accounts, 0) as membership_accounts,
        membership_matches.membership_account_id,
        group_call_matches.group_call_account_id,
        coalesce(email_domain_matches.domain_accounts, 0) as email_domain_accounts,
        email_domain_matches.domain_account_id as email_domain_account_id
    from events
    left join accounts as context_accounts
        on events.context_group_id = context_accounts.account_id
    left join membership_matches
        on
            events.user_id = membership_matches.user_id
            and events.event_date = membership_matches.event_date
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
        -- when the raw row was landed (an incremental run's high-water mark)
        loaded_at,
        -- What each rule says (kept so that an incremental run can tell when an answer changed).
        context_account_id,
        membership_accounts,
        membership_account_id,
        group_call_account_id,
        email_domain_accounts,
        email_domain_account_id,
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
        end as unresolved_reason,
        -- the start of the run that wrote the row (macros/tests/rewritten_rows.sql): an incremental
        -- run's data tests read the rows it rewrote, and the next run finds re-stitched events by it
        {{ built_at_column() }} as _built_at
    from rules_applied
)

select * from final
