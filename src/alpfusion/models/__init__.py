"""Statistical models: cabinetry configurations, pyhf workspaces and published patchsets."""
