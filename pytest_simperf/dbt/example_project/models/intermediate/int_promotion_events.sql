-- Promotions: employees who stay the year move up one level with their level's hazard, on
-- 1 April, with a 10% raise. Level 5 is the top.
{%- set promoted %}
    s.level_id < 5
    and {{ simperf_uniform('s.employee_key', 3) }} < r.promotion_rate
{%- endset %}

{{ stayer_events(
    'promotion', month=4, day=1,
    compensation_amount='round(s.compensation * 1.10, 2)',
    level_id='s.level_id + 1',
    where=promoted
) }}
