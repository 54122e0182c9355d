{#- Bridge: the groups a phishing campaign targets (macros/bridges.sql: the "All Users"
    pseudo-group and entries without a group_id). -#}
{{ knowbe4_campaign_groups('phishing_campaigns') }}
