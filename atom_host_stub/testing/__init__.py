"""A test kit for ATOM plugins, installed as a pytest plugin (entry point `pytest11`).

- `atom_host_stub.testing.plugin`: the fixtures (`atom_host`, `atom_client`, `atom_principal`,
  `atom_crm`, ...) and the `--atom-crm-contract=PLUGIN` option; pytest loads it by itself.
- `atom_host_stub.testing.crm_contract`: the CRM capability contract suite (`CRMContract`).

Importing this package imports nothing but the standard library: pytest loads the plugin in
every test run of every project that has the host installed.
"""
