"""Apache Spark as an engine, reached over Spark Connect (see engine.py).

Modules: ``engine`` (SparkEngine), ``session`` (connect, versions, errors),
``datasource`` (the generic Python Data Source), ``render`` (residual → Spark
SQL), ``types`` (Arrow → Spark normalisation). Importing this package imports
no pyspark; ``datasource`` does.
"""
