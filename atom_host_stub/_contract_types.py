"""The contract's plain type names, shared by `contract.py` and the models it builds on first
use (`_contract_models.py`), so that neither has to import the other. Import them from
`atom_host_stub.contract`."""

from typing import Literal

FilterOp = Literal["eq", "neq", "lt", "lte", "gt", "gte", "in", "contains", "has", "not_has"]
ObjectKind = Literal["contact", "company", "deal"]

# Where a read is answered from: `live` asks the CRM itself now; `mirror` a local copy the
# provider keeps, however far behind; `auto` (the default) the local copy while it is current,
# else the CRM. A provider that keeps no copy reads live whatever is asked.
ReadSource = Literal["auto", "mirror", "live"]
