"""dibx benchmarks: raw driver vs dibx vs @neo4j/graphql (see bench/README.md).

Never part of the test run's pass/fail.
"""
