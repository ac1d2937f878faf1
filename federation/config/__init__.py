"""The workspace configuration: a folder of YAML, read with positions and validated.

- ``load.resolve_workspace_dir(explicit)``: ``--workspace DIR``, else ``$CDP_WORKSPACE``,
  else ``./configs``.
- ``load.load_workspace(root, env)``: every ``*.yaml``/``*.yml`` in the folder, then
  ``sources/``, ``entities/``, ``segments/`` (also ``*.sql``), ``audiences/``; sections
  ``sources``, ``entities``, ``segments``, ``audiences``, ``engine``, ``settings``;
  ``${VAR}`` / ``${VAR:-default}`` / ``$${``; sources checked against
  ``connectors.registry``. Raises one ConfigError listing every problem.
- ``model``: the frozen ``WorkspaceConfig`` / ``SourceConfig`` it returns.

Nothing heavy is imported here: the CLI imports this package at start-up.
"""
