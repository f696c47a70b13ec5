-- Merit raises: every employee who stays the year gets their level's merit percentage, give or
-- take a point, on 1 July, applied after any promotion.
{%- set raised_pay %}
    round(
        s.compensation * (1 + r.merit_raise_pct + ({{ simperf_uniform('s.employee_key', 4) }} - 0.5) * 0.02),
        2
    )
{%- endset %}

{{ stayer_events('raise', month=7, day=1, compensation_amount=raised_pay, after_promotion=true) }}
