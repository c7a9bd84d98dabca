"""An in-memory CRM plugin for ATOM: the reference second provider of the `crm` capability."""
