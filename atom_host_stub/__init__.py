"""A small but real reference ATOM host: discovers plugins, validates their config, mounts their
routes, runs their health checks, shows an integration status dashboard, hands out services by
capability."""
