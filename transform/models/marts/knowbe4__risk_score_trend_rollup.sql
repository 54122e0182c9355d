{#- knowbe4__risk_score_trend across every source (unions by source): one row per entity type
    and date, over the entities of every account with a point that day: how many sources and
    entities, and their average, lowest and highest risk score. The account rows are the
    fleet's account scores side by side. With one source, the account rows are its scores. -#}
select
    entity_type,
    score_date,
    count(distinct source_relation) as sources,
    count(*) as entities,
    avg(risk_score) as avg_risk_score,
    min(risk_score) as min_risk_score,
    max(risk_score) as max_risk_score
from {{ ref('knowbe4__risk_score_trend') }}
group by entity_type, score_date
