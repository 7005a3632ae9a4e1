"""The recipe-driven lifecycle runner: recipes, dependencies, variables, artifacts, processes.

Entry points: :class:`localcore.runner.runner.Runner` (implements ``LifecycleService``),
:func:`localcore.runner.recipe.load_recipe`, :func:`localcore.runner.deployment.load_deployment`.
"""
