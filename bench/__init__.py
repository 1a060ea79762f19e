"""`python -m bench` (`make bench`): the service's throughput, latency and memory against the stub.

Starts the stub upstream and the service under gunicorn on free loopback ports, drives each scenario
with wrk straight at the stub and through the service in the same run, and prints the figures with
pass/fail against the targets in `bench.scenarios`. Results are also written to bench/results/.
"""
