-- One row per account per day: the component scores (0-100), the usage, relationship and health
-- composites and the quadrant, under the scoring config selected by var('scoring_config_version').
-- Every formula is spelled out in _health__models.yml; DECISIONS.md says why. A component with no
-- data is null and drops out of its composite (its weight goes to the components with data).
-- Incremental by day (issue 9; macros/cross_db/day_grain_incremental.sql): each row keeps a
-- fingerprint of its inputs - its usage and CS signals, the account's segment and creation date,
-- the selected scoring config (every seed row of the version), whether any key feature is seen at
-- all - and a run rescoring the days from the first account-day whose fingerprint changed on; a
-- config change or the first key feature seen changes every day's, so everything is rescored. No
-- rolling window here; depth_score under segment_percentile ranks the accounts of one segment on
-- one day, and a reprocessed day always has all its accounts. A table on Spark (no delete or merge).
{{
    config(
        materialized='table' if target.type == 'spark' else 'incremental',
        incremental_strategy=day_grain_incremental_strategy(),
        unique_key='account_day_id',
        on_schema_change='append_new_columns',
    )
}}
{#- scores as decimal(5,1), not numeric(28,1): 128-bit decimals are slow to read (macros/narrow_types.sql) #}
{%- set round_1 = round_score("{expr}") | string %}
{#- each composite: its (weight, component) pairs; a weighted mean over the components that have data #}
{%- set composites = {
    'usage_score': [
        ('usage_recency_weight', 'recency_score'), ('usage_adoption_weight', 'adoption_score'),
        ('usage_depth_weight', 'depth_score'), ('usage_breadth_weight', 'breadth_score'),
    ],
    'relationship_score': [
        ('relationship_nps_weight', 'nps_score'), ('relationship_support_weight', 'support_score'),
        ('relationship_cs_engagement_weight', 'cs_engagement_score'),
        ('relationship_sentiment_weight', 'sentiment_score'),
    ],
    'health_score': [
        ('health_recency_weight', 'recency_score'), ('health_adoption_weight', 'adoption_score'),
        ('health_depth_weight', 'depth_score'), ('health_breadth_weight', 'breadth_score'),
        ('health_cs_engagement_weight', 'cs_engagement_score'),
    ],
} %}
{%- set composite_exprs = {} %}
{%- set weight_with_data_exprs = {} %}
{%- for composite, pairs in composites.items() %}
    {%- set weighted_sum = [] %}
    {%- set weight_with_data = [] %}
    {%- for weight, component in pairs %}
        {%- do weighted_sum.append("coalesce(" ~ weight ~ " * " ~ component ~ ", 0)") %}
        {%- do weight_with_data.append("case when " ~ component ~ " is not null then " ~ weight ~ " else 0 end") %}
    {%- endfor %}
    {%- do composite_exprs.update({composite: "(" ~ weighted_sum | join("\n            + ") ~ ")\n            / nullif("
        ~ weight_with_data | join("\n            + ") ~ ", 0)"}) %}
    {%- do weight_with_data_exprs.update({composite: weight_with_data | join("\n            + ")}) %}
{%- endfor %}
{%- set key_feature_events_per_user %}
        case
            when usage_signals.active_users_30d > 0
                then 1.0 * usage_signals.key_feature_events_30d / usage_signals.active_users_30d
            else 0
        end
{%- endset %}
{#- the same intensity per week: 30 days are 30 / 7 weeks; unknown when events came but no user is known #}
{%- set key_feature_events_per_user_week %}
        case
            when usage_signals.active_users_30d > 0
                then 7.0 * usage_signals.key_feature_events_30d / (30 * usage_signals.active_users_30d)
            when coalesce(usage_signals.key_feature_events_30d, 0) = 0 then 0
        end
{%- endset %}

with

usage_signals as (

    select * from {{ ref('int_usage_signals_rolled_to_account_days') }}

),

cs_signals as (

    select * from {{ ref('int_cs_signals_rolled_to_account_days') }}

),

-- Stripe customers landed: an account whose customer is among them has known seats
billed_customers as (

    select distinct stripe_customer_id from {{ ref('stg_stripe__customers') }}

),

accounts as (

    select
        crm_accounts.account_id,
        crm_accounts.segment,
        cast(crm_accounts.created_at as date) as created_date,
        -- as dim_accounts: an account whose Stripe customer is landed has known seats (maybe 0)
        billed_customers.stripe_customer_id is not null as has_billing
    from {{ ref('stg_crm__accounts') }} as crm_accounts
    left join billed_customers
        on crm_accounts.stripe_customer_id = billed_customers.stripe_customer_id

),

scoring_config as (

    select * from {{ ref('int_scoring_config_pivoted_to_segments') }}

),

-- Whether any configured key feature occurs in the events at all: when none does, the key feature
-- list describes another product, and adoption and depth are unknown rather than 0.
key_feature_coverage as (

    select
        cast(coalesce(sum(case when is_seen then 1 else 0 end), 0) as {{ dbt.type_bigint() }}) as key_features_seen,
        coalesce(sum(case when is_seen then 1 else 0 end), 0) > 0 as has_key_feature_events
    from {{ ref('int_key_features_seen') }}

),

config_fingerprint as (

    {{ day_grain_config_fingerprint(
        ref('scoring_config'),
        ['config_version', 'segment', 'parameter_name', 'parameter_value'],
        "config_version = '" ~ var('scoring_config_version') ~ "'",
    ) }}

),

-- What each account-day is scored from; compared with the built fingerprints in an incremental run.
current_inputs as (

    select
        usage_signals.account_id,
        usage_signals.date_day,
        {{ day_grain_fingerprint([
            'usage_signals.output_fingerprint', 'cs_signals.output_fingerprint',
            'accounts.segment', 'accounts.created_date', 'accounts.has_billing',
            'config_fingerprint.config_fingerprint', 'key_feature_coverage.has_key_feature_events',
        ]) }} as input_fingerprint
    from usage_signals
    inner join accounts
        on usage_signals.account_id = accounts.account_id
    left join cs_signals
        on
            usage_signals.account_id = cs_signals.account_id
            and usage_signals.date_day = cs_signals.date_day
    cross join config_fingerprint
    cross join key_feature_coverage

),

reprocess_window as (

    {{ day_grain_reprocess_window('current_inputs') }}

),

-- depth under segment_percentile ranks the accounts of one segment (the scoring config's: '*' when
-- the account has none) on one day. Ranked here over four columns, not over the joined rows with
-- every config parameter: a window holds its rows in memory, and the wide one ran out of a 640 MB
-- cap at 12M events (issue 9).
depth_ranked as (

    select
        usage_signals.account_id,
        usage_signals.date_day,
        cume_dist() over (
            partition by coalesce(accounts.segment, '*'), usage_signals.date_day
            order by {{ key_feature_events_per_user }}
        ) as depth_cume_dist
    from usage_signals
    inner join accounts
        on usage_signals.account_id = accounts.account_id
    inner join reprocess_window
        on usage_signals.date_day >= reprocess_window.reprocess_from_date
    -- the rows `joined` keeps: its inner join to the config drops segments the config lacks
    where coalesce(accounts.segment, '*') in (select scoring_config.segment from scoring_config)

),

joined as (

    select
        usage_signals.account_id,
        usage_signals.date_day,
        accounts.created_date,
        accounts.has_billing,
        -- seats nobody knows are unknown, not 0
        case when accounts.has_billing then usage_signals.licensed_seats end as licensed_seats,
        usage_signals.active_users_30d,
        case when accounts.has_billing then usage_signals.active_user_ratio_30d end as active_user_ratio_30d,
        usage_signals.last_active_date,
        usage_signals.source_last_event_date,
        usage_signals.key_feature_events_30d,
        usage_signals.adopted_feature_weight_ratio,
        usage_signals.feature_gate_hits_30d,
        usage_signals.quota_threshold_events_30d,
        usage_signals.top_user_event_share_30d,
        cs_signals.last_human_touch_date,
        cs_signals.human_touches_90d,
        cs_signals.avg_sentiment_points_90d,
        cs_signals.avg_nps_180d,
        cs_signals.avg_nps_last_90d,
        cs_signals.avg_nps_prior_90d,
        cs_signals.tickets_opened_30d,
        cs_signals.first_ticket_opened_date,
        cs_signals.open_tickets,
        cs_signals.oldest_open_ticket_age_days,
        -- inactivity is counted up to the source's last event day: a stale source costs nobody recency
        {{ dbt.datediff(
            'usage_signals.last_active_date',
            'coalesce(usage_signals.source_last_event_date, usage_signals.date_day)',
            'day'
        ) }} as days_since_active,
        {{ dbt.datediff('cs_signals.last_human_touch_date', 'usage_signals.date_day', 'day') }}
            as days_since_human_touch,
        {{ dbt.datediff('accounts.created_date', 'usage_signals.date_day', 'day') }}
            as account_age_days,
        {{ dbt.datediff('usage_signals.source_last_event_date', 'usage_signals.date_day', 'day') }}
            as days_since_source_event,
        {{ key_feature_events_per_user }} as key_feature_events_per_active_user_30d,
        {{ key_feature_events_per_user_week }} as key_feature_events_per_active_user_week,
        depth_ranked.depth_cume_dist,
        key_feature_coverage.key_features_seen,
        key_feature_coverage.has_key_feature_events,
        current_inputs.input_fingerprint,
        scoring_config.*
    from usage_signals
    inner join accounts
        on usage_signals.account_id = accounts.account_id
    inner join current_inputs
        on
            usage_signals.account_id = current_inputs.account_id
            and usage_signals.date_day = current_inputs.date_day
    inner join scoring_config
        on coalesce(accounts.segment, '*') = scoring_config.segment
    left join cs_signals
        on
            usage_signals.account_id = cs_signals.account_id
            and usage_signals.date_day = cs_signals.date_day
    inner join reprocess_window
        on usage_signals.date_day >= reprocess_window.reprocess_from_date
    inner join depth_ranked
        on
            usage_signals.account_id = depth_ranked.account_id
            and usage_signals.date_day = depth_ranked.date_day
    cross join key_feature_coverage

),

components_scored as (

    select
        *,
        -- recency: exponential decay, halves every recency_half_life_days; never active = 0
        {{ round_1.format(expr="case when last_active_date is null then 0
            else 100 * power(0.5, days_since_active / recency_half_life_days) end") }} as recency_score,
        -- adoption: weighted share of key features used in the last 30 days; unknown when no
        -- configured key feature occurs in the events at all (the list names another product)
        {{ round_1.format(expr="case when has_key_feature_events
            then 100 * adopted_feature_weight_ratio end") }} as adoption_score,
        -- depth, unknown as adoption is, and when key-feature events came from no known user:
        -- absolute: key-feature events per active user per week against the target, capped;
        -- segment_percentile: rank of events per active user among the segment's accounts that day
        {{ round_1.format(expr="case when not has_key_feature_events then null
            when key_feature_events_per_active_user_week is null then null
            when depth_method = 'segment_percentile'
            then case when key_feature_events_per_active_user_30d > 0 then 100 * depth_cume_dist else 0 end
            else 100 * least(key_feature_events_per_active_user_week / depth_target_events_per_user_week, 1)
            end") }} as depth_score,
        -- breadth: active users 30d over licensed seats, full marks at breadth_target_ratio; null when
        -- the seats are unknown (no billing), 0 when billing knows of no seat; null too when the
        -- account was active in 30 days with no known user (anonymous visitors): users unknown, not 0
        {{ round_1.format(expr="case when has_billing
            and not coalesce(active_users_30d = 0 and days_since_active < 30, false)
            then 100 * least(coalesce(active_user_ratio_30d, 0) / breadth_target_ratio, 1) end") }}
            as breadth_score,
        -- CS engagement: recency of the last human touch (decay) and frequency of human touches in 90 days;
        -- null until the first human touch (no CS record is not a neglected account)
        {{ round_1.format(expr="case when last_human_touch_date is not null then 100 * (
            cs_recency_share * power(0.5, days_since_human_touch / cs_touch_half_life_days)
            + (1 - cs_recency_share) * least(coalesce(human_touches_90d, 0) / cs_touch_target_90d, 1)
        ) end") }} as cs_engagement_score,
        -- NPS: level (180-day average x 10) plus the trend of the last 90 days over the 90 before;
        -- null without an answer in 180 days
        {{ round_1.format(expr="case when avg_nps_180d is not null then greatest(0, least(100,
                10 * avg_nps_180d
                + coalesce((avg_nps_last_90d - avg_nps_prior_90d) * nps_trend_points_per_nps_point, 0)
            )) end") }} as nps_score,
        -- support friction: tickets opened in 30 days and the age of the oldest open ticket cost points;
        -- null until the account's first ticket (a support record that never existed says nothing)
        {{ round_1.format(expr="case when first_ticket_opened_date is not null then greatest(0,
            100
            - coalesce(tickets_opened_30d, 0) * support_ticket_penalty
            - coalesce(oldest_open_ticket_age_days, 0) * open_ticket_age_penalty_per_day
        ) end") }} as support_score,
        -- CSM sentiment: average of human touches' sentiment in 90 days (positive 100 / neutral 50 /
        -- negative 0); null when no touch in 90 days carries one
        {{ round_1.format(expr="avg_sentiment_points_90d") }} as sentiment_score
    from joined

),

composites_scored as (

    -- each: sum(w x s) / sum(w) over the components with data; null when none has data
    select
        *,
        {{ round_1.format(expr=composite_exprs['usage_score']) }} as usage_score,
        {{ round_1.format(expr=composite_exprs['relationship_score']) }} as relationship_score,
        {{ round_1.format(expr=composite_exprs['health_score']) }} as health_score,
        -- the share of the configured health weight whose components have data (weights sum to 1);
        -- rounded, so that a sum of doubles like 0.2 + 0.25 + 0.05 compares as 0.5 with the threshold
        round(cast({{ weight_with_data_exprs['health_score'] }} as {{ dbt.type_numeric() }}), 6)
            as health_weight_coverage
    from components_scored

),

final as (

    select
        {{ dbt.concat(["account_id", "'|'", dbt.cast("date_day", dbt.type_string())]) }} as account_day_id,
        account_id,
        date_day,
        segment,
        config_version,
        recency_score,
        adoption_score,
        depth_score,
        breadth_score,
        cs_engagement_score,
        nps_score,
        support_score,
        sentiment_score,
        usage_score,
        relationship_score,
        health_score,
        -- an axis with no data is unknown, never high or low: no quadrant then
        case
            when usage_score is null or relationship_score is null then null
            when usage_score >= quadrant_usage_threshold and relationship_score >= quadrant_relationship_threshold
                then 'Champions'
            when usage_score >= quadrant_usage_threshold then 'Frustrated Power Users'
            when relationship_score >= quadrant_relationship_threshold then 'Relationship-Dependent'
            else 'Churn Risk'
        end as quadrant,
        case
            when usage_score is null and relationship_score is null then 'both_unknown'
            when usage_score is null then 'usage_unknown'
            when relationship_score is null then 'relationship_unknown'
            else 'assigned'
        end as quadrant_status,
        case
            when account_age_days < min_account_age_days then 'account_too_new'
            when source_last_event_date is null or days_since_source_event >= source_stale_days
                then 'source_stale'
            -- health read from a small part of its weight (recency alone, say) is not judged
            when health_weight_coverage < min_health_weight_with_data then 'too_few_signals'
        end as insufficient_data_reason,
        cast(health_weight_coverage as {{ type_double() }}) as health_weight_coverage,
        days_since_active,
        days_since_human_touch,
        account_age_days,
        last_active_date,
        last_human_touch_date,
        has_billing,
        licensed_seats,
        active_users_30d,
        active_user_ratio_30d,
        adopted_feature_weight_ratio,
        key_feature_events_30d,
        key_feature_events_per_active_user_30d,
        key_feature_events_per_active_user_week,
        key_features_seen,
        has_key_feature_events,
        depth_method,
        human_touches_90d,
        avg_nps_180d,
        avg_nps_last_90d,
        avg_nps_prior_90d,
        tickets_opened_30d,
        first_ticket_opened_date,
        open_tickets,
        oldest_open_ticket_age_days,
        feature_gate_hits_30d,
        quota_threshold_events_30d,
        top_user_event_share_30d,
        health_recency_weight,
        health_adoption_weight,
        health_depth_weight,
        health_breadth_weight,
        health_cs_engagement_weight,
        healthy_threshold,
        quadrant_usage_threshold,
        quadrant_relationship_threshold,
        at_risk_relationship_decline,
        at_risk_relationship_drop_points,
        input_fingerprint
    from composites_scored

)

select
    *,
    {{ day_grain_fingerprint([
        'segment',
        'config_version',
        'recency_score',
        'adoption_score',
        'depth_score',
        'breadth_score',
        'cs_engagement_score',
        'nps_score',
        'support_score',
        'sentiment_score',
        'usage_score',
        'relationship_score',
        'health_score',
        'quadrant',
        'quadrant_status',
        'insufficient_data_reason',
        'health_weight_coverage',
        'days_since_active',
        'days_since_human_touch',
        'account_age_days',
        'last_active_date',
        'last_human_touch_date',
        'has_billing',
        'licensed_seats',
        'active_users_30d',
        'active_user_ratio_30d',
        'adopted_feature_weight_ratio',
        'key_feature_events_30d',
        'key_feature_events_per_active_user_30d',
        'key_feature_events_per_active_user_week',
        'key_features_seen',
        'has_key_feature_events',
        'depth_method',
        'human_touches_90d',
        'avg_nps_180d',
        'avg_nps_last_90d',
        'avg_nps_prior_90d',
        'tickets_opened_30d',
        'first_ticket_opened_date',
        'open_tickets',
        'oldest_open_ticket_age_days',
        'feature_gate_hits_30d',
        'quota_threshold_events_30d',
        'top_user_event_share_30d',
        'health_recency_weight',
        'health_adoption_weight',
        'health_depth_weight',
        'health_breadth_weight',
        'health_cs_engagement_weight',
        'healthy_threshold',
        'quadrant_usage_threshold',
        'quadrant_relationship_threshold',
        'at_risk_relationship_decline',
        'at_risk_relationship_drop_points',
    ]) }} as output_fingerprint,
    -- the run that wrote the row: data tests check the latest write's rows (macros/tests/rewritten_rows.sql)
    {{ built_at_column() }} as _built_at
from final
