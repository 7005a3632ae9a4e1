"""Fleet identity unit: thing group, things, certificates, device policy, token exchange role."""
