-- Claim: in every month, the accounts an alert type fired for are among the accounts scored that
-- month (a judged, not insufficient_data, day): a rule is gated on insufficient data.
-- A warning, not an error: a weekly rule that is not gated yet fires on unjudged weeks (RavenStack,
-- 2023: declining_3_weeks for up to 3.7x the accounts scored); the run still publishes, and the
-- months show here and as alerted_account_share above 1 in mart_alerts_monthly.
{{ config(severity='warn') }}

select
    alert_month_id,
    scored_accounts,
    alerted_accounts
from {{ ref('mart_alerts_monthly') }}
where alerted_accounts > scored_accounts
