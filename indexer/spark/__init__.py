"""The build on Apache Spark (``vibemap index --engine spark``): the same stages and rules
as the local build, distributed, writing the same artifact. Needs ``pip install
'vibemap[spark]'`` and Java 17+; nothing here is imported by the local build."""
