{#- Bridge: the groups a training campaign enrolls (macros/bridges.sql: the "All Users"
    pseudo-group and entries without a group_id). -#}
{{ knowbe4_campaign_groups('training_campaigns') }}
