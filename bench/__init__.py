"""`python -m bench` (`make bench`): the service's throughput, latency, CPU and memory against the stub.

Starts the stub upstream, then the service under gunicorn in each configuration of
`bench.configurations` (in-process state; Redis + limits + budgets + cache, missed), on free loopback
ports, drives each scenario with wrk straight at the stub and through the service, and prints the
figures side by side with pass/fail against the targets in `bench.scenarios`: per run also the service's
CPU milliseconds per request, how wrk's connections were split across the workers, and with Redis
what each request cost it (`bench.redis_cost`). Results are also written to bench/results/.
"""
